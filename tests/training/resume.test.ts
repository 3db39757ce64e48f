/**
 * Resuming equals not stopping: a run of N steps straight, and the same run
 * stopped after step k (shouldStop, which is what Ctrl-C sets: it writes a
 * checkpoint and returns) then resumed to N in the same folder, give
 * bit-identical per-step `loss`, `gradNorm`, router losses and validation
 * losses in metrics.jsonl, and byte-identical final checkpoints (parameters,
 * loss-free balancing biases, optimizer state). Validation runs between
 * steps (eval_every 2) and once more when resuming, so it must not disturb
 * training state either; lines metrics.jsonl holds past the checkpoint (a
 * later step, a torn last line, as a killed run leaves them) are dropped on
 * resume. Covers token choice (switch), loss-free bias
 * balancing (deepseek_v3_style) and gradient accumulation over two
 * micro-batches (mixture_of_tokens; deepseekmoe with shared experts and the
 * sequence-level balance loss). Needs a WebGPU adapter.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../runtime/checkpoint.ts';
import { SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { train, type StepMetrics } from '../../runtime/trainer.ts';
import { compileModel, rawNumbers, readMetricsStrict, smallSpec, smallTrain, TempDirs } from './helpers.ts';

const N = 6;
const K = 3;
const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

const cases = [
  { file: 'switch.moe', accumulate: 1 },
  { file: 'deepseek_v3_style.moe', accumulate: 1 },
  { file: 'mixture_of_tokens.moe', accumulate: 2 },
  { file: 'deepseekmoe.moe', accumulate: 2 },
];

/** What must match bit for bit, per step. */
function perStep(m: StepMetrics) {
  return { step: m.step, loss: m.loss, gradNorm: m.gradNorm, lr: m.lr, losses: m.losses, valLoss: m.valLoss, load: m.layers.map((l) => l.load), dropped: m.layers.map((l) => l.dropped) };
}

describe('resume equals an uninterrupted run', () => {
  for (const { file, accumulate } of cases) {
    it(`${file}${accumulate > 1 ? ` (accumulate ${accumulate})` : ''}: ${N} steps straight = ${K} steps, stop, resume to ${N}`, async () => {
      const spec = smallSpec(file, smallTrain({ batch: 8, steps: N, accumulate, evalEvery: 2, checkpointEvery: 4 }), { context: 32 });
      expect(spec.train.accumulate).toBe(accumulate);
      const data = new SyntheticCorpus(spec.train.seed);

      const straightDir = tmp.make(`moec-resume-straight-${spec.name}-`);
      const a = await compileModel(spec, straightDir);
      const straight = await train({ spec, modelDir: a.modelDir, outDir: straightDir, data, gpu: a.gpu });
      expect(straight.steps).toBe(N);
      expect(straight.stoppedEarly).toBe(false);

      const stoppedDir = tmp.make(`moec-resume-stopped-${spec.name}-`);
      const b = await compileModel(spec, stoppedDir);
      let completed = 0;
      const first = await train({ spec, modelDir: b.modelDir, outDir: stoppedDir, data, gpu: b.gpu, shouldStop: () => ++completed >= K });
      expect(first.stoppedEarly).toBe(true);
      expect(first.steps).toBe(K);
      expect(loadCheckpoint(join(stoppedDir, CHECKPOINT_FILE)).meta.step).toBe(K);
      expect(readMetricsStrict(first.metrics)).toHaveLength(K);

      // As a run killed later would leave it: a line of a step the checkpoint lacks, then a torn line.
      appendFileSync(first.metrics, `${JSON.stringify({ step: K + 1, loss: 1, gradNorm: 1 })}\n{"step":${K + 2},"loss":0.9`);

      const messages: string[] = [];
      const resumed = await train({ spec, modelDir: b.modelDir, outDir: stoppedDir, data, gpu: b.gpu, resume: true, events: { message: (t) => messages.push(t) } });
      expect(resumed.steps).toBe(N);
      expect(resumed.stoppedEarly).toBe(false);
      expect(messages.join('\n')).toContain(`at step ${K}`);

      // The JSON number texts, exactly as written.
      for (const key of ['loss', 'gradNorm']) expect(rawNumbers(resumed.metrics, key), key).toEqual(rawNumbers(straight.metrics, key));
      const ms = readMetricsStrict(straight.metrics);
      const mr = readMetricsStrict(resumed.metrics);
      expect(mr.map((m) => m.step)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      expect(mr.map(perStep)).toEqual(ms.map(perStep));
      expect(ms.filter((m) => m.valLoss !== undefined).map((m) => m.step)).toEqual([2, 4, 6]);
      expect(resumed.lastValLoss).toBe(straight.lastValLoss);

      const cs = loadCheckpoint(join(straightDir, CHECKPOINT_FILE));
      const cr = loadCheckpoint(join(stoppedDir, CHECKPOINT_FILE));
      expect(cr.meta.step).toBe(N);
      expect(cr.meta.rng).toEqual(cs.meta.rng);
      expect([...cr.tensors.keys()].sort()).toEqual([...cs.tensors.keys()].sort());
      expect([...cs.tensors.keys()].some((n) => n.startsWith('optimizer.'))).toBe(true);
      if (file === 'deepseek_v3_style.moe') expect([...cs.tensors.keys()].filter((n) => n.endsWith('router.bias'))).toHaveLength(2);
      const differ = [...cs.tensors].filter(([name, t]) => {
        const u = cr.tensors.get(name)!;
        return Buffer.compare(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)) !== 0 || t.shape.join() !== u.shape.join();
      });
      expect(differ.map(([n]) => n)).toEqual([]);
      // The spec text is stored verbatim: resuming refuses a changed spec.
      expect(cr.meta.spec.text).toBe(spec.source.text);
    }, 240_000);
  }
});
