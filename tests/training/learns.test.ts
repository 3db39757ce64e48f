/**
 * Every shipped spec learns: in a small configuration (batch 8, context 32,
 * 40 AdamW steps at lr 3e-3, cosine schedule with 4 warm-up steps) on the
 * built-in synthetic corpus, its validation loss falls to at most 70% of its
 * value before training, and metrics.jsonl has one line per step with finite
 * losses, gradient norm and, for MoE specs, one load array per MoE layer with
 * one entry per routed expert. Needs a WebGPU adapter (fails without one, never skips).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMoeBlock } from '../../compiler/spec.ts';
import { SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { train } from '../../runtime/trainer.ts';
import { compileModel, readMetricsStrict, ROOT, smallSpec, smallTrain, TempDirs } from './helpers.ts';

const STEPS = 40;
const CONTEXT = 32;
const specs = readdirSync(join(ROOT, 'specs')).filter((f) => f.endsWith('.moe')).sort();
const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

describe('every shipped spec learns the synthetic corpus', () => {
  it('ships specs', () => expect(specs.length).toBeGreaterThanOrEqual(10));

  for (const file of specs) {
    it(file, async () => {
      // Batch 8 is a whole Mixture of Tokens group (group 8).
      const spec = smallSpec(file, smallTrain({ batch: 8, steps: STEPS }), { context: CONTEXT });
      const out = tmp.make(`moec-learns-${spec.name}-`);
      const { gpu, modelDir } = await compileModel(spec, out);
      const result = await train({ spec, modelDir, outDir: out, data: new SyntheticCorpus(spec.train.seed), gpu });

      const { firstValLoss: first, lastValLoss: last } = result;
      const summary = `${file}: validation loss ${first} -> ${last} (ratio ${(last / first).toFixed(3)}) after ${result.steps} steps`;
      expect(result.steps, summary).toBe(STEPS);
      expect(result.stoppedEarly).toBe(false);
      // Untrained byte-level model: about ln 256 = 5.545 nats.
      expect(first, summary).toBeGreaterThan(5);
      expect(first, summary).toBeLessThan(6);
      expect(last, summary).toBeLessThanOrEqual(0.7 * first);

      const metrics = readMetricsStrict(result.metrics);
      expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
      const moeBlocks = [...Array(spec.depth).keys()].filter((b) => isMoeBlock(spec, b));
      const experts = spec.ffn.kind === 'moe' ? spec.ffn.experts.count : 0;
      for (const m of metrics) {
        const at = `${file} step ${m.step}`;
        expect(Number.isFinite(m.loss), at).toBe(true);
        expect(Number.isFinite(m.gradNorm) && m.gradNorm > 0, `${at}: gradNorm ${m.gradNorm}`).toBe(true);
        expect(Object.keys(m.losses)).toContain('loss.cross_entropy');
        for (const [name, v] of Object.entries(m.losses)) expect(Number.isFinite(v), `${at}: ${name} = ${v}`).toBe(true);
        expect(m.tokens).toBe(spec.train.batch * spec.context * spec.train.accumulate);
        expect(m.layers.map((l) => l.block), at).toEqual(moeBlocks);
        for (const l of m.layers) {
          expect(l.load, `${at} block ${l.block}`).toHaveLength(experts);
          expect(l.load.every((x) => Number.isFinite(x) && x >= 0), `${at} block ${l.block} load ${l.load}`).toBe(true);
          expect(l.dropped).toBeGreaterThanOrEqual(0);
          expect(l.dropped).toBeLessThanOrEqual(1);
          expect(Number.isFinite(l.entropy)).toBe(true);
        }
      }
      if (spec.ffn.kind === 'moe') expect(moeBlocks.length).toBeGreaterThan(0);
      // The last step is always evaluated, and its value is the one returned.
      expect(metrics.at(-1)!.valLoss).toBe(last);
    }, 240_000);
  }
});
