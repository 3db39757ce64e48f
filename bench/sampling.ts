/**
 * Sampling speed, bytes generated per second, with the key/value cache
 * (one decoding step per byte) and without it (the whole window re-run per
 * byte, as before the cache), on the same weights. Steady state: the time
 * of a long run minus a short one, so compiling and the prompt do not count.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpec } from '../compiler/compile.ts';
import { lowerModel } from '../compiler/lower.ts';
import type { Target } from '../codegen/wgsl/kernel.ts';
import { writeCompiledModel } from '../codegen/harness/compile_output.ts';
import { trainPlan } from '../codegen/train_plan.ts';
import type { Gpu } from '../runtime/gpu.ts';
import { initGraph } from '../runtime/init.ts';
import { sampleBatch, sampleOverWindow, sampleWithCache, type SampleOptions } from '../runtime/sampler.ts';

export interface SamplingSpeed {
  readonly context: number;
  /** Bytes per second of each sequence, without and with the cache. */
  readonly window: number;
  readonly cache: number;
}

/** Steady-state bytes/s of `moec sample` on `specPath` (its context set to `context`), both ways. */
export async function timeSampling(gpu: Gpu, specPath: string, target: Target, context: number, short = 16, long = 80): Promise<SamplingSpeed> {
  const text = readFileSync(specPath, 'utf8').replace(/\bcontext \d+/, `context ${context}`);
  const { spec } = checkSpec(text, specPath);
  if (!spec) throw new Error(`${specPath} does not check`);
  const weights = initGraph(lowerModel(spec), 1);
  const dir = mkdtempSync(join(tmpdir(), 'moec-bench-sample-'));
  try {
    writeCompiledModel(trainPlan(spec, target, { batch: sampleBatch(spec), seq: spec.context }), dir);
    const base: Omit<SampleOptions, 'tokens'> = { spec, weights, gpu, prompt: new TextEncoder().encode('Call me Ishmael. '), temperature: 0.8, seed: 1 };
    const rate = async (run: (tokens: number) => Promise<unknown>) => {
      const seconds = async (tokens: number) => {
        const t0 = performance.now();
        await run(tokens);
        return (performance.now() - t0) / 1000;
      };
      await seconds(short); // warm: pipelines compiled once per process
      return (long - short) / ((await seconds(long)) - (await seconds(short)));
    };
    const window = await rate((tokens) => sampleOverWindow({ ...base, tokens, modelDir: dir }));
    const cache = await rate((tokens) => sampleWithCache({ ...base, tokens }));
    return { context, window, cache };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
