/**
 * The playground's trainer, in a Web Worker so the page stays responsive:
 * compiles the spec in the browser (the same compiler and code generator as
 * the CLI), checks it fits the browser's adapter (the same limits check),
 * and trains it on `navigator.gpu` with runtime/plan_model.ts — the same
 * kernels, schedule, data order, learning-rate schedule, initialisation and
 * checkpoint format as `moec train`, so a downloaded checkpoint is read by
 * `moec sample` and `moec train --resume`.
 */
import { checkSpec } from '../../compiler/compile.ts';
import { DeviceFitError, fitProblems } from '../../codegen/device_fit.ts';
import { planKernels, trainPlan } from '../../codegen/train_plan.ts';
import { checkpointNames, checksumParts, type CheckpointMeta } from '../../runtime/checkpoint_format.ts';
import type { DataSource } from '../../runtime/data/batch.ts';
import { SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { DataError, TextCorpus } from '../../runtime/data/text_file.ts';
import { acquireGpu, type Gpu } from '../../runtime/gpu.ts';
import { GpuUnavailableError, KernelError } from '../../runtime/gpu_errors.ts';
import { learningRate } from '../../runtime/lr_schedule.ts';
import { DivergedError, EVAL_BATCHES } from '../../runtime/trainer.ts';
import { PlanModel } from '../../runtime/plan_model.ts';
import { Rng } from '../../runtime/rng.ts';
import { serializeSafetensors, type StTensor } from '../../runtime/safetensors.ts';
import type { ModelSpec } from '../../compiler/spec.ts';
import type { FromWorker, LayerLoad, ToWorker } from '../protocol.ts';

/** The memory a page may use for one model (browsers report none). */
const PAGE_BUDGET = { bytes: 2 * 2 ** 30, source: "the playground's 2 GiB budget per model" };

const scope = globalThis as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

interface Run {
  readonly spec: ModelSpec;
  readonly model: PlanModel;
  readonly data: DataSource;
  readonly rng: Rng;
  total: number;
  step: number;
}

let gpu: Promise<Gpu> | undefined;
let run: Run | undefined;
let stopRequested = false;
let busy = false;

async function compile(m: Extract<ToWorker, { type: 'train' }>): Promise<Run | undefined> {
  const checked = checkSpec(m.text, m.path);
  if (!checked.spec) {
    post({ type: 'error', message: `${m.path} has errors; fix them first (see the editor)` });
    return undefined;
  }
  const spec = checked.spec;
  gpu ??= acquireGpu();
  const device = await gpu;
  const plan = trainPlan(spec, { ...device.limits });
  const problems = fitProblems(plan.graph, plan.buffers, planKernels(plan), device.limits, PAGE_BUDGET);
  if (problems.length) throw new DeviceFitError(problems);
  const specData = spec.train.data;
  if (m.data === 'spec' && specData.kind === 'file') throw new DataError(`the spec trains on the file "${specData.path}", which the page cannot read`, 'choose synthetic or Moby-Dick under Data, or train it with the CLI: moec train SPEC');
  const source = m.data === 'spec' ? specData.kind : m.data;
  let data: DataSource;
  if (source === 'moby_dick') {
    if (!m.mobyDick) throw new DataError('the built-in text did not load', 'reload the page');
    data = new TextCorpus('Moby-Dick (built-in, public domain)', m.mobyDick, spec.train.validation, spec.context, spec.train.seed);
  } else data = new SyntheticCorpus(spec.train.seed);
  const model = PlanModel.create(device, plan);
  try {
    await model.allocate();
    await model.rt.initialize(spec.train.seed);
  } catch (e) {
    model.rt.executor.destroy();
    throw e;
  }
  post({ type: 'compiled', adapter: device.adapterName, kernels: new Set(planKernels(plan).map((k) => k.id)).size, params: plan.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0), data: data.description, steps: m.steps });
  return { spec, model, data, rng: Rng.forName(spec.train.seed, 'train'), total: m.steps, step: 0 };
}

async function validate(r: Run): Promise<number> {
  let sum = 0;
  for (let i = 0; i < EVAL_BATCHES; i++) {
    const b = r.data.batch('validation', i, r.model.batch, r.model.context);
    await r.model.evaluate(b.tokens, b.targets);
    sum += ((await r.model.rt.read(['loss.cross_entropy'])).get('loss.cross_entropy') as Float32Array)[0]!;
  }
  return sum / EVAL_BATCHES;
}

/** Trains `r` until its total or a stop request, posting every step. Batches, learning rates and the RNG follow runtime/trainer.ts. */
async function trainLoop(r: Run): Promise<void> {
  const { model, spec } = r;
  const moe = [...Array(spec.depth).keys()].filter((b) => model.rt.executor.has(`blocks.${b}.moe.load`));
  if (r.step === 0) post({ type: 'validation', step: 0, valLoss: await validate(r) });
  while (r.step < r.total && !stopRequested) {
    const step = ++r.step;
    const micro = Array.from({ length: model.accumulate }, (_, m) => r.data.batch('train', (step - 1) * model.accumulate + m, model.batch, model.context));
    const t0 = performance.now();
    await model.trainStep(micro, { lr: learningRate(spec.train, step, r.total), step });
    r.rng.nextU32();
    const values = await model.rt.read(['loss.cross_entropy', ...moe.map((b) => `blocks.${b}.moe.load`)]);
    const seconds = (performance.now() - t0) / 1000;
    const loss = (values.get('loss.cross_entropy') as Float32Array)[0]!;
    if (!Number.isFinite(loss)) {
      // As moec train: a run that diverged stops, and the step is not kept.
      r.step--;
      throw new DivergedError(step, 'the loss', undefined);
    }
    const layers: LayerLoad[] = moe.map((b) => ({ block: b, load: [...(values.get(`blocks.${b}.moe.load`) as Int32Array)] }));
    const evalNow = step % spec.train.evalEvery === 0 || step === r.total;
    post({
      type: 'step',
      step,
      loss,
      ...(evalNow ? { valLoss: await validate(r) } : {}),
      tokensPerSecond: (model.batch * model.context * model.accumulate) / Math.max(seconds, 1e-9),
      layers,
    });
  }
  post({ type: 'done', step: r.step, stopped: r.step < r.total });
}

/** The run's weights and optimizer state as a moec checkpoint (the names, metadata and checksum `moec train` writes). */
async function checkpoint(r: Run): Promise<FromWorker> {
  const rt = r.model.rt;
  const manifest = rt.manifest;
  const names = checkpointNames(manifest.parameters.map((p) => p.name), manifest.buffers.map((b) => b.name)).filter((n) => rt.executor.has(n));
  const shapes = new Map(manifest.parameters.map((p) => [p.name, p.shape]));
  const values = await rt.read(names);
  const tensors = new Map<string, StTensor>();
  for (const [name, v] of values) tensors.set(name, { dtype: v instanceof Int32Array ? 'I32' : 'F32', shape: shapes.get(name) ?? [v.length], data: v });
  const o = r.spec.train.optimizer;
  const meta: CheckpointMeta = {
    format: 1,
    spec: { path: r.spec.source.path, text: r.spec.source.text },
    step: r.step,
    totalSteps: r.total,
    seed: r.spec.train.seed,
    rng: r.rng.state,
    optimizer: { kind: o.kind, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay },
    data: r.data.description,
    savedAt: new Date().toISOString(),
  };
  const parts = checksumParts(meta, tensors);
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
  const sealed: CheckpointMeta = { ...meta, checksum: `sha256:${[...digest].map((b) => b.toString(16).padStart(2, '0')).join('')}` };
  const bytes = serializeSafetensors(tensors, { moec: JSON.stringify(sealed) });
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return { type: 'checkpoint', step: r.step, bytes: buffer, name: `${r.spec.name}-step${r.step}.safetensors` };
}

/** A failure as a message for the page: the errors a user can act on keep their words and hint. */
function report(e: unknown): FromWorker {
  if (e instanceof GpuUnavailableError) return { type: 'error', message: e.message, hint: 'use a browser with WebGPU (Chrome or Edge 113+, or Chromium with --enable-unsafe-webgpu), or train with the CLI: moec train' };
  if (e instanceof DeviceFitError) return { type: 'error', message: `this browser's adapter cannot hold the model: ${e.problems.map((p) => p.message).join('; ')}`, hint: e.problems[0]?.hint };
  if (e instanceof KernelError) return { type: 'error', message: e.message, hint: e.hint };
  if (e instanceof DataError) return { type: 'error', message: e.message, hint: e.hint };
  if (e instanceof DivergedError) return { type: 'error', message: e.message, hint: 'lower the learning rate (optimizer { lr … }) or add clipping (clip 1.0), then press Train again' };
  return { type: 'error', message: `internal error: ${e instanceof Error ? e.message : String(e)}`, hint: 'this is a bug in moec; please report it with the spec' };
}

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'stop') {
    stopRequested = true;
    return;
  }
  if (busy) return post({ type: 'error', message: 'the worker is busy with the previous request' });
  busy = true;
  stopRequested = false;
  void (async () => {
    try {
      if (m.type === 'train') {
        // The previous run stays usable (resume, checkpoint) until the new one has compiled and allocated.
        const next = await compile(m);
        if (next) {
          run?.model.rt.executor.destroy();
          run = next;
          await trainLoop(run);
        }
      } else if (!run) post({ type: 'error', message: 'nothing has been trained yet', hint: 'press Train first' });
      else if (m.type === 'resume') {
        run.total = Math.max(run.step, m.steps);
        await trainLoop(run);
      } else {
        const c = await checkpoint(run);
        post(c, c.type === 'checkpoint' ? [c.bytes] : []);
      }
    } catch (err) {
      if (err instanceof DivergedError) {
        // Its weights are not finite any more: nothing to resume or download.
        run?.model.rt.executor.destroy();
        run = undefined;
      }
      post(report(err));
    } finally {
      busy = false;
    }
  })();
};
