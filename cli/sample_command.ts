/**
 * `moec sample CHECKPOINT`: generates text from a trained model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpec } from '../compiler/compile.ts';
import { isNonCausal } from '../compiler/routing_core.ts';
import { writeCompiledModel } from '../codegen/harness/compile_output.ts';
import { planKernels, trainPlan } from '../codegen/train_plan.ts';
import { assertFits } from '../runtime/device_budget.ts';
import { checkFits } from './device_fit_report.ts';
import { CheckpointError, loadCheckpoint } from '../runtime/checkpoint.ts';
import { sharedGpu } from '../runtime/gpu.ts';
import { targetFor } from '../runtime/tuning.ts';
import { sample, sampleBatch } from '../runtime/sampler.ts';
import { UserError } from './user_error.ts';

export interface SampleCommandOptions {
  prompt?: string;
  tokens: number;
  temperature: number;
  seed: number;
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
  const nonCausal = spec.layers.find((l) => l.kind === 'moe' && isNonCausal(l.routing));
  if (nonCausal?.kind === 'moe') {
    process.stderr.write(`moec: note: ${nonCausal.preset} routing is not causal; while sampling, routing also sees the positions after the current one (padding), which training did not. Expect samples to differ from training conditions.\n`);
  }
  if (B > 1) process.stderr.write(`moec: note: Mixture of Tokens mixes ${B} sequences per group; sampling ${B} continuations side by side and printing the first.\n`);
  const gpu = await sharedGpu();
  const plan = trainPlan(spec, targetFor(gpu), { batch: B, seq: spec.context });
  checkFits(spec, () => assertFits(gpu, plan.graph, plan.buffers, planKernels(plan)));
  const dir = mkdtempSync(join(tmpdir(), 'moec-sample-'));
  try {
    writeCompiledModel(plan, dir);
    const prompt = new TextEncoder().encode(opts.prompt ?? '');
    const outs = await sample({ spec, checkpoint: ck, gpu, modelDir: dir, prompt, tokens: opts.tokens, temperature: opts.temperature, seed: opts.seed });
    process.stdout.write(`${opts.prompt ?? ''}${new TextDecoder('utf-8').decode(outs[0])}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
