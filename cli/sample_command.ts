/**
 * `moec sample CHECKPOINT`: generates text from a trained model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpec } from '../compiler/compile.ts';
import { writeCompiledModel } from '../codegen/harness/compile_output.ts';
import { planKernels, trainPlan } from '../codegen/train_plan.ts';
import { assertFits } from '../runtime/device_budget.ts';
import { checkFits } from './device_fit_report.ts';
import { CheckpointError, loadCheckpoint } from '../runtime/checkpoint.ts';
import { sharedGpu } from '../runtime/gpu.ts';
import { targetFor } from '../runtime/tuning.ts';
import { sampleBatch, sampleOverWindow, sampleWithCache, windowOnlyReason, type SampleOptions } from '../runtime/sampler.ts';
import { UserError } from './user_error.ts';

export interface SampleCommandOptions {
  prompt?: string;
  tokens: number;
  temperature: number;
  seed: number;
  /** false (--no-cache): re-run the whole window for every byte, as before the cache. */
  cache: boolean;
}

export async function sampleCommand(path: string, opts: SampleCommandOptions): Promise<void> {
  // Node decodes arguments as UTF-8 and puts U+FFFD where bytes were not UTF-8: refuse rather than sample from a changed prompt.
  if (opts.prompt?.includes('\uFFFD')) throw new UserError('--prompt is not valid UTF-8 (it holds U+FFFD, which marks bytes that could not be decoded)', 'pass the prompt as UTF-8 text');
  let ck;
  try {
    ck = loadCheckpoint(path);
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(e.message, 'pass a checkpoint.safetensors written by moec train');
    throw e;
  }
  const checked = checkSpec(ck.meta.spec.text, ck.meta.spec.path);
  if (!checked.spec) throw new UserError(`${path} holds a spec this version of moec cannot read`, checked.diagnostics[0]?.message);
  const spec = checked.spec;
  if (!Number.isFinite(opts.temperature) || opts.temperature < 0) throw new UserError('--temperature must be a number >= 0', '0 picks the most likely byte every time');
  const B = sampleBatch(spec);
  const windowOnly = windowOnlyReason(spec);
  const useCache = opts.cache && !windowOnly;
  const note = (s: string) => process.stderr.write(`moec: note: ${s}\n`);
  if (windowOnly) note(`${windowOnly}, so each byte re-runs the whole window (no key/value cache), and routing also sees the positions after the current one (padding), which training did not. Expect samples to differ from training conditions.`);
  const dropping = spec.layers.find((l) => l.kind === 'moe' && l.routing.select === 'token_choice' && l.routing.capacityFactor !== null);
  if (useCache && dropping?.kind === 'moe') note(`${dropping.preset} routing has a capacity; sampling routes the ${B > 1 ? `${B} new tokens` : 'new token'} of each step on ${B > 1 ? 'their' : 'its'} own, so capacity never drops one (training could).`);
  if (B > 1) note(`Mixture of Tokens mixes ${B} sequences per group; sampling ${B} continuations side by side and printing the first.`);
  const gpu = await sharedGpu();
  const plan = trainPlan(spec, targetFor(gpu), { batch: B, seq: spec.context });
  checkFits(spec, () => assertFits(gpu, plan.graph, plan.buffers, planKernels(plan)));
  const prompt = new TextEncoder().encode(opts.prompt ?? '');
  const weights = new Map([...ck.tensors].map(([name, t]) => [name, t.data]));
  const common: SampleOptions = { spec, weights, gpu, prompt, tokens: opts.tokens, temperature: opts.temperature, seed: opts.seed };
  let outs: Uint8Array[];
  if (useCache) outs = await sampleWithCache(common);
  else {
    const dir = mkdtempSync(join(tmpdir(), 'moec-sample-'));
    try {
      writeCompiledModel(plan, dir);
      outs = await sampleOverWindow({ ...common, modelDir: dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${opts.prompt ?? ''}${new TextDecoder('utf-8').decode(outs[0])}\n`);
}
