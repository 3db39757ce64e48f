/**
 * The training loop around a compiled model: data, learning-rate schedule,
 * per-step metrics (losses, gradient norm, expert load, dropped fraction,
 * router entropy, which expert handles which sub-language), validation,
 * atomic checkpoints, exact resume, Ctrl-C, and a stop with a named tensor
 * when a loss or gradient stops being finite.
 *
 * The step itself is the generated harness (model.ts): this file only feeds
 * it batches and reads back what it reports.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModelSpec } from '../compiler/spec.ts';
import { isMoeBlock, moeLayerOf } from '../compiler/spec.ts';
import { checkpointNames } from './checkpoint_format.ts';
import { CHECKPOINT_FILE, CheckpointError, loadCheckpoint, removeStaleTemps, saveCheckpoint, writeAtomic, type CheckpointMeta } from './checkpoint.ts';
import type { DataSource } from './data/batch.ts';
import { labelsOf, tokenLabels } from './data/token_labels.ts';
import type { HostArray } from './executor.ts';
import type { Gpu } from './gpu.ts';
import { ModelRuntime } from './model_runtime.ts';
import { Rng } from './rng.ts';
import type { StTensor } from './safetensors.ts';
import { learningRate } from './lr_schedule.ts';
import { ROUTING_FORMAT, RoutingRecorder, RoutingReplay, type RoutingTable } from './routing_record.ts';
import { STATE } from '../codegen/wgsl/train_state.ts';

/** What a generated harness class offers (see codegen/harness/harness.ts). */
export interface CompiledModel {
  allocate(): Promise<void>;
  /** Models compiled to record routing return each micro-batch's selections; those compiled to replay it take them in `routing`. */
  trainStep(micro: readonly { tokens: Int32Array; targets: Int32Array; routing?: Readonly<Record<string, Int32Array>> }[], hyper: { lr: number; step: number }): Promise<void | ReadonlyMap<string, Int32Array>[]>;
  evaluate(tokens: Int32Array, targets: Int32Array): Promise<void>;
}

export interface CompiledModelClass {
  new (rt: ModelRuntime): CompiledModel;
  readonly batch: number;
  readonly context: number;
  readonly vocab: number;
  readonly accumulate: number;
  readonly losses: readonly string[];
  /** Present when compiled to record or replay routing: every token-choice layer's selection table. */
  readonly routingTables?: readonly RoutingTable[];
}

/** Imports the harness class of a compiled model directory. */
export async function importCompiledModel(dir: string): Promise<CompiledModelClass> {
  const mod = (await import(pathToFileURL(join(dir, 'model.ts')).href)) as Record<string, unknown>;
  const cls = Object.values(mod).find((v) => typeof v === 'function' && 'prototype' in v && typeof (v as { prototype: { trainStep?: unknown } }).prototype.trainStep === 'function');
  if (!cls) throw new Error(`internal: ${dir}/model.ts exports no model class`);
  return cls as CompiledModelClass;
}

/** Validation batches per evaluation (moec train, and the playground's worker). */
export const EVAL_BATCHES = 4;

/** One MoE layer's statistics of a step. */
export interface LayerStats {
  readonly block: number;
  /** Assignments kept per routed expert (mixing routers: slot rows). */
  readonly load: number[];
  /** Fraction of assignments dropped by capacity. */
  readonly dropped: number;
  /** Mean over tokens of the entropy (nats) of softmax(router logits). */
  readonly entropy: number;
}

/** One line of metrics.jsonl. */
export interface StepMetrics {
  readonly step: number;
  readonly loss: number;
  readonly losses: Record<string, number>;
  readonly lr: number;
  readonly gradNorm: number;
  readonly tokens: number;
  readonly seconds: number;
  readonly tokensPerSecond: number;
  readonly layers: LayerStats[];
  readonly valLoss?: number;
}

export interface TrainerEvents {
  step?(m: StepMetrics, total: number): void;
  validation?(step: number, loss: number): void;
  checkpoint?(path: string, step: number): void;
  message?(text: string): void;
}

export interface TrainOptions {
  readonly spec: ModelSpec;
  /** A compiled model directory (model.ts, kernels/, manifest.json). */
  readonly modelDir: string;
  readonly outDir: string;
  readonly data: DataSource;
  readonly gpu: Gpu;
  /** Total optimizer steps (default: the spec's). */
  readonly steps?: number;
  readonly resume?: boolean;
  readonly events?: TrainerEvents;
  /** Validation batches averaged per evaluation. */
  readonly evalBatches?: number;
  /** Checked after every step; true stops with a checkpoint (Ctrl-C). */
  readonly shouldStop?: () => boolean;
  /** Test hook: poison a parameter with NaN before this step. */
  readonly injectNanAtStep?: number;
  /**
   * Routing record (a file to write every micro-batch's selections to; the
   * model compiled with routing 'record') or replay (a file of them to use
   * instead of the router's; compiled with 'replay').
   */
  readonly routing?: { readonly record?: string; readonly replay?: string };
}

export interface TrainResult {
  readonly steps: number;
  readonly stoppedEarly: boolean;
  readonly checkpoint: string;
  readonly metrics: string;
  readonly firstValLoss: number;
  readonly lastValLoss: number;
  /** layer block → expert → label (sub-language, or kind of byte on real text: data/token_labels.ts) → assignments. */
  readonly specialization: Record<number, number[][]>;
}

/** Training stopped because a value stopped being finite. */
export class DivergedError extends Error {
  constructor(
    readonly step: number,
    readonly tensor: string,
    readonly checkpoint: string | undefined,
  ) {
    super(`step ${step}: ${tensor} is not finite (NaN or Inf); training stopped${checkpoint ? `, the last good checkpoint is ${checkpoint}` : ', no checkpoint had been written yet'}`);
    this.name = 'DivergedError';
  }
}

const finite = (x: number) => Number.isFinite(x);

function entropyOf(logits: Float32Array, rows: number, cols: number): number {
  let total = 0;
  for (let t = 0; t < rows; t++) {
    let max = -Infinity;
    for (let s = 0; s < cols; s++) max = Math.max(max, logits[t * cols + s]!);
    let sum = 0;
    for (let s = 0; s < cols; s++) sum += Math.exp(logits[t * cols + s]! - max);
    let h = 0;
    for (let s = 0; s < cols; s++) {
      const p = Math.exp(logits[t * cols + s]! - max) / sum;
      if (p > 0) h -= p * Math.log(p);
    }
    total += h;
  }
  return total / rows;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { spec, data, outDir, events = {} } = opts;
  const cls = await importCompiledModel(opts.modelDir);
  const rt = await ModelRuntime.open(opts.modelDir, opts.gpu);
  const model = new cls(rt);
  await model.allocate();

  const B = cls.batch;
  const S = cls.context;
  const total = opts.steps ?? spec.train.steps;
  const checkpointPath = join(outDir, CHECKPOINT_FILE);
  const metricsPath = join(outDir, 'metrics.jsonl');
  const moeBlocks = [...Array(spec.depth).keys()].filter((b) => isMoeBlock(spec, b));
  const manifest = rt.manifest;
  const stateNames = manifest.parameters.map((p) => p.name);
  const savedNames = checkpointNames(stateNames, manifest.buffers.map((b) => b.name));
  const shapes = new Map(manifest.parameters.map((p) => [p.name, p.shape]));
  const has = (n: string) => rt.executor.has(n);
  const rng = Rng.forName(spec.train.seed, 'train');
  removeStaleTemps(outDir);

  // Parameters: from the checkpoint when resuming, else the seeded initialisation.
  let start = 0;
  if (opts.resume && existsSync(checkpointPath)) {
    const ck = loadCheckpoint(checkpointPath);
    if (ck.meta.spec.text !== spec.source.text) throw new CheckpointError(checkpointPath, 'was written for a different spec (the spec changed since); refusing to resume');
    for (const [name, t] of ck.tensors) if (has(name)) await rt.write(name, t.data);
    start = ck.meta.step;
    rng.state = [...ck.meta.rng];
    // Keep only the metrics of steps the checkpoint contains (up to a torn last line from a killed run).
    if (existsSync(metricsPath)) {
      const kept: string[] = [];
      for (const l of readFileSync(metricsPath, 'utf8').split('\n')) {
        if (!l) continue;
        let m: StepMetrics;
        try {
          m = JSON.parse(l) as StepMetrics;
        } catch {
          break;
        }
        if (m.step <= start) kept.push(`${l}\n`);
      }
      writeAtomic(metricsPath, Buffer.from(kept.join('')));
    }
    events.message?.(`resuming from ${checkpointPath} at step ${start}`);
  } else {
    await rt.initialize(spec.train.seed);
    writeFileSync(metricsPath, '');
  }

  const saveAt = async (step: number): Promise<void> => {
    const values = await rt.read(savedNames.filter(has));
    const tensors = new Map<string, StTensor>();
    for (const [name, v] of values) tensors.set(name, { dtype: v instanceof Int32Array ? 'I32' : 'F32', shape: shapes.get(name) ?? [v.length], data: v });
    const o = spec.train.optimizer;
    const meta: CheckpointMeta = {
      format: 1,
      spec: { path: spec.source.path, text: spec.source.text },
      step,
      totalSteps: total,
      seed: spec.train.seed,
      rng: rng.state,
      optimizer: { kind: o.kind, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay },
      data: data.description,
      savedAt: new Date().toISOString(),
    };
    saveCheckpoint(checkpointPath, tensors, meta);
    lastCheckpointStep = step;
    events.checkpoint?.(checkpointPath, step);
  };
  let lastCheckpointStep = start > 0 ? start : -1;

  const validate = async (): Promise<number> => {
    const n = opts.evalBatches ?? EVAL_BATCHES;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const b = data.batch('validation', i, B, S);
      await model.evaluate(b.tokens, b.targets);
      sum += ((await rt.read(['loss.cross_entropy'])).get('loss.cross_entropy') as Float32Array)[0]!;
    }
    return sum / n;
  };

  const specialization: Record<number, number[][]> = {};
  for (const b of moeBlocks) {
    // Null experts are chosen like the others, so they get a row of counts (and a load) too.
    const layer = moeLayerOf(spec, b)!;
    const E = layer.experts.count + layer.routing.nullExperts;
    specialization[b] = Array.from({ length: E }, () => new Array<number>(labelsOf(data).names.length).fill(0));
  }

  const perLayer = moeBlocks.map((b) => {
    const p = `blocks.${b}.moe.`;
    return { block: b, load: `${p}load`, demand: `${p}demand`, logits: `${p}logits`, tokenExpert: `${p}token_expert`, combine: `${p}combine_weights` };
  });
  const readNames = [...cls.losses, 'train/state', ...perLayer.flatMap((l) => [l.load, l.demand, l.logits, l.tokenExpert, l.combine])].filter(has);

  const tables = cls.routingTables ?? [];
  if ((opts.routing?.record || opts.routing?.replay) && !cls.routingTables) throw new Error('internal: routing record/replay needs a model compiled for it');
  const recorder = opts.routing?.record ? RoutingRecorder.open(opts.routing.record, { format: ROUTING_FORMAT, spec: spec.source.path, accumulate: cls.accumulate, tables }, start) : undefined;
  const replay = opts.routing?.replay ? RoutingReplay.open(opts.routing.replay, { accumulate: cls.accumulate, tables }) : undefined;
  try {
    return await trainSteps();
  } finally {
    recorder?.close();
    replay?.close();
  }

  // The step loop (a function so the record files above are closed whatever happens in it).
  async function trainSteps(): Promise<TrainResult> {
    const firstVal = await validate();
    if (start === 0) events.validation?.(0, firstVal);
    let lastVal = firstVal;
    const began = Date.now();
    let stoppedEarly = false;
    let step = start;
    while (step < total) {
      step++;
      const micro = Array.from({ length: cls.accumulate }, (_, m) => ({ ...data.batch('train', (step - 1) * cls.accumulate + m, B, S), ...(replay ? { routing: replay.read(step, m) } : {}) }));
      if (opts.injectNanAtStep === step) {
        const victim = manifest.parameters[0]!;
        await rt.write(victim.name, new Float32Array(victim.shape.reduce((a, b) => a * b, 1)).fill(Number.NaN));
      }
      const lr = learningRate(spec.train, step, total);
      const t0 = Date.now();
      const recorded = await model.trainStep(micro, { lr, step });
      if (recorder) (recorded ?? []).forEach((tables, m) => recorder.append(step, m, tables));
      // Batches are a pure function of the step, so the RNG only needs to advance in lock-step for its state to mean "after step N".
      rng.nextU32();
      const values = await rt.read(readNames);
      const seconds = (Date.now() - t0) / 1000;
      const state = values.get('train/state') as Float32Array;
      const losses: Record<string, number> = {};
      for (const l of cls.losses) losses[l] = (values.get(l) as Float32Array)[0]!;
      const bad = Object.entries(losses).find(([, v]) => !finite(v))?.[0] ?? (state[STATE.skipped] === 1 || !finite(state[STATE.gradNorm]!) ? await firstNonFiniteGradient(rt, stateNames.filter(has)) : undefined);
      if (bad) throw new DivergedError(step, bad, lastCheckpointStep >= 0 ? `${checkpointPath} (step ${lastCheckpointStep})` : undefined);

      const layers: LayerStats[] = perLayer.map((l) => layerStats(l, values, B * S, specialization[l.block]!, tokenLabels(data, micro.at(-1)!, S)));
      const tokens = B * S * cls.accumulate;
      const metrics: StepMetrics = {
        step,
        loss: losses['loss.cross_entropy'] ?? Number.NaN,
        losses,
        lr,
        gradNorm: state[STATE.gradNorm]!,
        tokens,
        seconds,
        tokensPerSecond: tokens / Math.max(seconds, 1e-9),
        layers,
        ...(step % spec.train.evalEvery === 0 || step === total ? { valLoss: (lastVal = await validate()) } : {}),
      };
      appendFileSync(metricsPath, `${JSON.stringify(metrics)}\n`);
      events.step?.(metrics, total);
      if (metrics.valLoss !== undefined) events.validation?.(step, metrics.valLoss);
      const stop = opts.shouldStop?.() ?? false;
      if (step % spec.train.checkpointEvery === 0 || step === total || stop) await saveAt(step);
      if (stop && step < total) {
        stoppedEarly = true;
        break;
      }
    }
    if (step === start && lastCheckpointStep < 0) await saveAt(step);
    events.message?.(`trained ${step - start} steps in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return { steps: step, stoppedEarly, checkpoint: checkpointPath, metrics: metricsPath, firstValLoss: firstVal, lastValLoss: lastVal, specialization };
  }
}

function layerStats(
  l: { block: number; load: string; demand: string; logits: string; tokenExpert: string; combine: string },
  values: Map<string, HostArray>,
  N: number,
  counts: number[][],
  labels: Int8Array,
): LayerStats {
  const load = values.get(l.load) as Int32Array | undefined;
  const demand = values.get(l.demand) as Int32Array | undefined;
  const logits = values.get(l.logits) as Float32Array;
  const cols = logits.length / N;
  const kept = load ? load.reduce((a, b) => a + b, 0) : 0;
  const wanted = demand ? demand.reduce((a, b) => a + b, 0) : 0;
  const te = values.get(l.tokenExpert) as Int32Array | undefined;
  const E = counts.length;
  if (te) {
    const k = te.length / N;
    for (let t = 0; t < N; t++) {
      const lang = labels[t]!;
      if (lang < 0) continue;
      for (let j = 0; j < k; j++) {
        const e = te[t * k + j]!;
        if (e >= 0) counts[e]![lang]! += 1;
      }
    }
  } else {
    // Mixing routers: each token's combine weight mass per expert.
    const cw = values.get(l.combine) as Float32Array | undefined;
    if (cw) {
      const slots = cw.length / N;
      const p = slots / E;
      for (let t = 0; t < N; t++) {
        const lang = labels[t]!;
        if (lang < 0) continue;
        for (let s = 0; s < slots; s++) counts[Math.floor(s / p)]![lang]! += cw[t * slots + s]!;
      }
    }
  }
  return {
    block: l.block,
    load: load ? [...load] : new Array<number>(E).fill(N * cols / Math.max(1, E)),
    dropped: wanted > 0 ? 1 - kept / wanted : 0,
    entropy: entropyOf(logits, N, cols),
  };
}

/** The first parameter whose gradient holds a NaN or Inf (or whose value does), for the stop message. */
async function firstNonFiniteGradient(rt: ModelRuntime, params: readonly string[]): Promise<string> {
  for (const name of params) {
    for (const candidate of [name, `grad/${name}`]) {
      if (!rt.executor.has(candidate)) continue;
      const v = (await rt.read([candidate])).get(candidate)!;
      if (v.some((x) => !Number.isFinite(x))) return candidate === name ? `parameter ${name}` : `the gradient of ${name}`;
    }
  }
  return 'the gradient norm';
}
