/**
 * `moec train SPEC`: compiles the spec into DIR/compiled (kernels, manifest,
 * the generated model.ts), trains it with that harness, and leaves
 * DIR/metrics.jsonl, DIR/checkpoint.safetensors and DIR/report.html.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { modelCost } from '../compiler/cost.ts';
import type { ModelSpec } from '../compiler/spec.ts';
import { writeCompiledModel } from '../codegen/harness/compile_output.ts';
import { planKernels, trainPlan } from '../codegen/train_plan.ts';
import { assertFits } from '../runtime/device_budget.ts';
import { checkFits } from './device_fit_report.ts';
import { CHECKPOINT_FILE, CheckpointError, loadCheckpoint } from '../runtime/checkpoint.ts';
import { acquireRunLock, RunLockedError } from '../runtime/run_lock.ts';
import type { DataSource } from '../runtime/data/batch.ts';
import { SyntheticCorpus } from '../runtime/data/synthetic.ts';
import { labelsOf } from '../runtime/data/token_labels.ts';
import { DataError, TextFile } from '../runtime/data/text_file.ts';
import { MOBY_DICK, mobyDick } from '../runtime/data/moby_dick.ts';
import { sharedGpu } from '../runtime/gpu.ts';
import { RoutingFileError } from '../runtime/routing_record.ts';
import { targetFor } from '../runtime/tuning.ts';
import { DivergedError, train, type TrainResult } from '../runtime/trainer.ts';
import { writeTrainReport } from '../report/train_report.ts';
import { requireSpec } from './load_spec.ts';
import { progressReporter } from './progress.ts';
import { UserError } from './user_error.ts';

export interface TrainCommandOptions {
  steps?: number;
  data?: string;
  out?: string;
  resume?: boolean;
  /** Write every token-choice layer's selections to this file. */
  recordRouting?: string;
  /** Use the selections recorded in this file instead of the routers'. */
  replayRouting?: string;
}

/** Record or replay routing: only token-choice layers have selections a file can hold. */
function routingMode(spec: ModelSpec, opts: TrainCommandOptions): 'record' | 'replay' | undefined {
  if (opts.recordRouting && opts.replayRouting) throw new UserError('--record-routing and --replay-routing cannot be used together', 'replay a recording into a new run, then record that one if you need to', 2);
  const mode = opts.recordRouting ? 'record' : opts.replayRouting ? 'replay' : undefined;
  if (!mode) return undefined;
  const other = spec.layers.map((l, b) => ({ l, b })).find(({ l }) => l.kind === 'moe' && l.routing.select !== 'token_choice');
  if (other?.l.kind === 'moe') throw new UserError(`routing ${mode} covers token-choice routers; block ${other.b} routes with ${other.l.preset}`, 'its selection is not a per-token list of experts a file could hold');
  if (!spec.layers.some((l) => l.kind === 'moe')) throw new UserError(`routing ${mode}: ${spec.source.path} has no MoE layer`, 'a dense model has no routing to record');
  return mode;
}

/**
 * The data a run trains on: --data (a file, or the built-in corpora's names
 * `synthetic` and `moby_dick`; `./moby_dick` is a file), else the spec's
 * `data` (a file relative to the spec's folder).
 */
export function dataSourceFor(spec: ModelSpec, dataArg: string | undefined): DataSource {
  const t = spec.train;
  type Source = ModelSpec['train']['data'];
  const builtIn = (name: string): Source | undefined => (name === 'synthetic' ? { kind: 'synthetic' } : name === MOBY_DICK ? { kind: MOBY_DICK } : undefined);
  const source: Source = dataArg !== undefined ? (builtIn(dataArg) ?? { kind: 'file', path: dataArg }) : t.data.kind === 'file' ? { kind: 'file', path: join(dirname(spec.source.path), t.data.path) } : t.data;
  try {
    if (source.kind === 'synthetic') return new SyntheticCorpus(t.seed);
    if (source.kind === MOBY_DICK) return mobyDick(t.validation, spec.context, t.seed);
    return new TextFile(source.path, t.validation, spec.context, t.seed);
  } catch (e) {
    if (e instanceof DataError) throw new UserError(e.message, e.hint);
    throw e;
  }
}

/** Compiles and trains one spec into `outDir`; shared by `train` and `compare`. */
export async function runTraining(spec: ModelSpec, outDir: string, opts: TrainCommandOptions, label: string): Promise<TrainResult> {
  // Bad data is reported before anything is created on disk.
  const data = dataSourceFor(spec, opts.data);
  mkdirSync(outDir, { recursive: true });
  let release: () => void;
  try {
    release = acquireRunLock(outDir);
  } catch (e) {
    if (e instanceof RunLockedError) throw new UserError(e.message, 'wait for it to finish or stop it, or train into another --out DIR (a lock left by a killed run is taken over)');
    throw e;
  }
  try {
    return await trainLocked(spec, outDir, opts, label, data);
  } finally {
    release();
  }
}

/** runTraining's work once the run folder is locked. */
async function trainLocked(spec: ModelSpec, outDir: string, opts: TrainCommandOptions, label: string, data: DataSource): Promise<TrainResult> {
  const ckpt = join(outDir, CHECKPOINT_FILE);
  if (existsSync(ckpt) && !opts.resume) {
    let at = '';
    try {
      at = ` (step ${loadCheckpoint(ckpt).meta.step})`;
    } catch {
      // An unreadable checkpoint still belongs to someone: do not overwrite it either.
    }
    throw new UserError(`${outDir} already holds a training run${at}`, 'pass --resume to continue it, or --out DIR to start a new one');
  }
  if (opts.resume && !existsSync(ckpt)) throw new UserError(`--resume: ${outDir} has no ${CHECKPOINT_FILE}`, 'train once without --resume first');
  if (opts.resume) {
    // A run already at its last step would "train 0 steps" and exit 0: say so instead, before anything is written.
    let done: number;
    try {
      done = loadCheckpoint(ckpt).meta.step;
    } catch (e) {
      if (e instanceof CheckpointError) throw new UserError(e.message, 'start a new run with --out DIR; the damaged checkpoint is left as it is');
      throw e;
    }
    const total = opts.steps ?? spec.train.steps;
    if (done >= total) throw new UserError(`--resume: ${outDir} is already at step ${done}, and training stops at step ${total}`, `pass --steps N with N > ${done} to train further`);
  }
  const mode = routingMode(spec, opts);
  if (opts.replayRouting) checkReplayFile(opts.replayRouting);
  const gpu = await sharedGpu();
  const plan = trainPlan(spec, targetFor(gpu), undefined, mode);
  checkFits(spec, () => assertFits(gpu, plan.graph, plan.buffers, planKernels(plan)));
  const modelDir = join(outDir, 'compiled');
  writeCompiledModel(plan, modelDir);
  const progress = progressReporter(label, 0);
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress.message('interrupted: finishing this step and writing a checkpoint (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSigint);
  try {
    const routing = mode ? { routing: { ...(opts.recordRouting ? { record: resolve(opts.recordRouting) } : {}), ...(opts.replayRouting ? { replay: resolve(opts.replayRouting) } : {}) } } : {};
    const result = await train({ spec, modelDir, outDir, data, gpu, ...(opts.steps ? { steps: opts.steps } : {}), resume: !!opts.resume, events: progress, shouldStop: () => interrupted, ...routing });
    progress.stop();
    const cost = modelCost(spec, plan.graph);
    await writeTrainReport(outDir, { spec, data: data.description, adapter: gpu.adapterName, labels: labelsOf(data), specialization: result.specialization, params: cost.params, activeParams: cost.activeParams });
    if (interrupted) process.exitCode = 130;
    return result;
  } catch (e) {
    progress.stop();
    if (e instanceof DivergedError) throw new UserError(e.message, 'lower the learning rate, add clipping (`clip 1.0`), or add `z_loss` to the router');
    if (e instanceof CheckpointError) throw new UserError(e.message, 'start a new run with --out DIR, or restore the spec the run was started with');
    if (e instanceof RoutingFileError) throw new UserError(e.message, e.hint);
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** A replay file must be readable before anything is compiled or written (its tables are checked against the model later). */
function checkReplayFile(path: string): void {
  if (!existsSync(path)) throw new UserError(`--replay-routing: ${path} does not exist`, 'record one first with `moec train SPEC --record-routing FILE`');
}

export async function trainCommand(path: string, opts: TrainCommandOptions): Promise<void> {
  const spec = requireSpec(path);
  const outDir = resolve(opts.out ?? join('runs', spec.name));
  const result = await runTraining(spec, outDir, opts, spec.name);
  const rel = (p: string) => p.replace(`${process.cwd()}/`, '');
  process.stdout.write(
    [
      `validation loss ${result.firstValLoss.toFixed(3)} -> ${result.lastValLoss.toFixed(3)} after ${result.steps} steps${result.stoppedEarly ? ' (stopped early)' : ''}`,
      `checkpoint: ${rel(result.checkpoint)}`,
      `metrics:    ${rel(result.metrics)}`,
      `report:     ${rel(join(outDir, 'report.html'))}`,
      '',
    ].join('\n'),
  );
}
