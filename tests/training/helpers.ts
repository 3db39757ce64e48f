/**
 * Shared set-up of the training tests: shipped specs shrunk to a small
 * configuration, temporary folders, compiling a model for `train()`, strict
 * metrics.jsonl reading, and running `node bin/moec.js` as a user does.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSpec } from '../../compiler/compile.ts';
import type { ModelSpec } from '../../compiler/spec.ts';
import { writeCompiledModel } from '../../codegen/harness/compile_output.ts';
import { trainPlan } from '../../codegen/train_plan.ts';
import { sharedGpu, type Gpu } from '../../runtime/gpu.ts';
import type { StepMetrics } from '../../runtime/trainer.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The small training configuration the tests put in place of a shipped spec's `train { ... }` line. */
export function smallTrain(o: { batch?: number; steps?: number; evalEvery?: number; checkpointEvery?: number; accumulate?: number; lr?: number; extra?: string } = {}): string {
  const steps = o.steps ?? 40;
  return [
    'train { data synthetic',
    `batch ${o.batch ?? 8}`,
    `steps ${steps}`,
    ...(o.accumulate ? [`accumulate ${o.accumulate}`] : []),
    `optimizer adamw { lr ${o.lr ?? 3e-3} }`,
    `schedule cosine { warmup ${Math.max(1, Math.round(steps / 10))} }`,
    'seed 1',
    `eval_every ${o.evalEvery ?? steps}`,
    `checkpoint_every ${o.checkpointEvery ?? steps}`,
    ...(o.extra ? [o.extra] : []),
    '}',
  ].join(' ');
}

/** A shipped spec's text with its `train` line replaced (and optionally a smaller context). */
export function specText(file: string, train: string, opts: { context?: number } = {}): string {
  const original = readFileSync(join(ROOT, 'specs', file), 'utf8');
  if (!/^train \{.*\}$/m.test(original)) throw new Error(`specs/${file} has no one-line train { ... } to replace`);
  let text = original.replace(/^train \{.*\}$/m, train);
  if (opts.context) text = text.replace(/\bcontext \d+/, `context ${opts.context}`);
  return text;
}

/** Checks spec text; throws with the diagnostics when it has errors. */
export function parseSpec(text: string, path: string): ModelSpec {
  const r = checkSpec(text, path);
  if (!r.spec) throw new Error(`${path}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.spec;
}

/** A shipped spec in a small configuration. */
export function smallSpec(file: string, train = smallTrain(), opts: { context?: number } = {}): ModelSpec {
  return parseSpec(specText(file, train, opts), `specs/${file}`);
}

/** Temporary folders removed by `cleanup()` (call it from afterAll). */
export class TempDirs {
  private readonly dirs: string[] = [];
  make(prefix = 'moec-training-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }
  cleanup(): void {
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

/** Compiles `spec` into `dir` for `train()`, as `moec train` does (GPU required: fails without an adapter); `routing` compiles it to record or replay routing. */
export async function compileModel(spec: ModelSpec, dir: string, routing?: 'record' | 'replay'): Promise<{ gpu: Gpu; modelDir: string }> {
  const gpu = await sharedGpu();
  const modelDir = join(dir, 'compiled');
  writeCompiledModel(trainPlan(spec, gpu.limits, undefined, routing), modelDir);
  return { gpu, modelDir };
}

/** Every line of a metrics.jsonl, parsed strictly (a torn or empty line fails). */
export function readMetricsStrict(path: string): StepMetrics[] {
  const text = readFileSync(path, 'utf8');
  if (text && !text.endsWith('\n')) throw new Error(`${path} does not end with a newline`);
  return text
    .split('\n')
    .filter((l, i, all) => i < all.length - 1 || l !== '')
    .map((l) => JSON.parse(l) as StepMetrics);
}

/** The raw `"loss":…` and `"gradNorm":…` number texts of each line, for bit-exact comparison. */
export function rawNumbers(path: string, key: string): string[] {
  const re = new RegExp(`"${key}":(-?[0-9.eE+-]+|null)`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = re.exec(l);
      if (!m) throw new Error(`no ${key} in ${l.slice(0, 80)}`);
      return m[1]!;
    });
}

export interface CliRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node bin/moec.js ARGS` from the repository root, stdout a pipe (not a terminal). */
export function moec(args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/moec.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: opts.timeoutMs ?? 240_000, env: { ...process.env, ...opts.env } });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A readable account of a CLI run for assertion messages. */
export function show(r: CliRun): string {
  return `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Writes spec text to DIR/NAME.moe and returns the path. */
export function writeSpec(dir: string, name: string, text: string): string {
  const p = join(dir, `${name}.moe`);
  writeFileSync(p, text);
  return p;
}

/** Whether a string looks like a JavaScript stack trace. */
export function hasStackTrace(s: string): boolean {
  return /\n\s+at .+[:(]\d+/.test(s) || /\bat .*\.(ts|js|mjs):\d+:\d+/.test(s);
}
