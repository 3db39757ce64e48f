/**
 * `moec sample`'s key/value cache: decoding a sequence one token at a time
 * (runtime/sampler.ts DecodeSession over compiler/lower.ts lowerDecode)
 * gives, at every position, the logits of the whole-sequence forward pass
 * on the GPU, for learned and rotary positions, dense and MoE blocks,
 * shared experts, adapters, group-limited sigmoid routing with a balancing
 * bias, layers routed differently, and Mixture of Tokens (8 sequences side
 * by side). Capacity factors are raised so the whole-sequence pass drops
 * nothing: with the cache a lone new token is never dropped (docs/ROUTING.md).
 * The decode kernels themselves are proved against the Float64 reference by
 * `moec test` (its "decode step" scenario, run for every shipped spec).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { lowerModel } from '../../compiler/lower.ts';
import { mixingBatch } from '../../compiler/spec.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { GraphRunner } from '../../runtime/graph_runner.ts';
import { Rng } from '../../runtime/rng.ts';
import { DecodeSession, sampleBatch, sampleOverWindow, sampleWithCache, windowOnlyReason } from '../../runtime/sampler.ts';
import { writeCompiledModel } from '../../codegen/harness/compile_output.ts';
import { trainPlan } from '../../codegen/train_plan.ts';
import { targetFor } from '../../runtime/tuning.ts';
import { randomValues } from '../../runtime/test_scenarios.ts';

const S = 16;
const SPECS = ['dense', 'switch', 'deepseekmoe', 'mixture_of_tokens', 'molora', 'routing/deepseek_v3', 'routing/per_layer', 'routing/qwen_moe'];

describe('sampling with a key/value cache', () => {
  for (const name of SPECS) {
    it(`${name}: decoding token by token gives the whole-sequence logits at every position`, async () => {
      const path = `specs/${name}.moe`;
      const text = readFileSync(path, 'utf8').replace(/\bcontext \d+/, `context ${S}`).replace(/\bcapacity_factor [\d.]+/g, 'capacity_factor 64');
      const spec = checkSpec(text, path).spec!;
      expect(windowOnlyReason(spec)).toBeUndefined();
      const B = mixingBatch(spec);
      const gpu = await sharedGpu();
      const graph = lowerModel(spec, { batch: B, seq: S });
      const values = randomValues(graph, 11, spec.vocab);
      const rng = Rng.forName(3, 'tokens');
      const tokens = Int32Array.from({ length: B * S }, () => rng.int(spec.vocab));
      values.set('tokens', tokens);
      const whole = await GraphRunner.create(gpu, graph, path);
      let full: Float32Array;
      try {
        whole.setValues(values);
        await whole.forward();
        full = (await whole.read('logits')) as Float32Array;
      } finally {
        whole.destroy();
      }
      const V = spec.vocab;
      const session = await DecodeSession.open(spec, values, gpu, B);
      let worst = 0;
      let scale = 0;
      try {
        for (let p = 0; p < S; p++) {
          const step = await session.step(Array.from({ length: B }, (_, b) => tokens[b * S + p]!), p);
          for (let b = 0; b < B; b++) {
            for (let v = 0; v < V; v++) {
              const want = full[(b * S + p) * V + v]!;
              worst = Math.max(worst, Math.abs(step[b * V + v]! - want));
              scale = Math.max(scale, Math.abs(want));
            }
          }
        }
      } finally {
        session.destroy();
      }
      expect(scale).toBeGreaterThan(0.1);
      expect(worst / scale, `max |cached − whole| ${worst} against max |logit| ${scale}`).toBeLessThan(1e-5);
    });
  }

  it('sampleWithCache writes the same text as sampleOverWindow at temperature 0 (dense and dropless MoE, within the context)', async () => {
    const gpu = await sharedGpu();
    for (const name of ['dense', 'dropless']) {
      const path = `specs/${name}.moe`;
      const spec = checkSpec(readFileSync(path, 'utf8').replace(/\bcontext \d+/, `context ${S}`), path).spec!;
      const weights = randomValues(lowerModel(spec), 2, spec.vocab);
      const dir = mkdtempSync(join(tmpdir(), 'moec-decode-window-'));
      try {
        writeCompiledModel(trainPlan(spec, targetFor(gpu), { batch: sampleBatch(spec), seq: S }), dir);
        const common = { spec, weights, gpu, prompt: new TextEncoder().encode('abcd'), tokens: S - 5, temperature: 0, seed: 1 };
        const cached = await sampleWithCache(common);
        const window = await sampleOverWindow({ ...common, modelDir: dir });
        expect(cached[0]!.length).toBe(S - 5);
        expect(Buffer.from(cached[0]!).toString('latin1'), name).toBe(Buffer.from(window[0]!).toString('latin1'));
        // Not a degenerate text: random weights give several different bytes.
        expect(new Set(cached[0]!).size, name).toBeGreaterThan(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('expert choice, Soft MoE and Sinkhorn are sampled over the window, and say why', () => {
    const why = (name: string) => windowOnlyReason(checkSpec(readFileSync(`specs/${name}.moe`, 'utf8'), name).spec!);
    expect(why('expert_choice')).toMatch(/expert choice ranks the tokens of a whole batch/);
    expect(why('soft_moe')).toMatch(/Soft MoE slots mix a whole sequence/);
    expect(why('routing/base_sinkhorn')).toMatch(/Sinkhorn/);
    expect(why('gshard')).toBeUndefined();
  });
});
