/**
 * Training with the PyTorch export is training with moec:
 *   - 20 steps of the export's train.py give the losses of 20 steps of
 *     `moec train` (same spec, seed, data) within 1e-3 relative, for every
 *     router family;
 *   - expert parallelism on 2 processes (gloo over 127.0.0.1) gives the
 *     1-process losses within 1e-5 relative over 20 steps, for token choice
 *     with capacity and drops, dropless, and fine-grained + shared experts;
 *   - checkpoints cross both ways: a moec checkpoint read into the export
 *     (1 and 2 processes) and written back is the same bytes, and moec
 *     samples from and resumes the checkpoint train.py wrote.
 * Fails (never skips) without a WebGPU adapter or a Python with PyTorch.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepMetrics } from '../../runtime/trainer.ts';
import { moec, readMetricsStrict, show, smallTrain, specText, TempDirs, writeSpec } from '../training/helpers.ts';
import { runPython } from './pytorch.ts';

const STEPS = 20;
const tmp = new TempDirs();
afterAll(() => tmp.cleanup());
const dir = tmp.make('moec-export-train-');

/** Shipped specs, one per router family, with a small training block (batch 8, context 32). */
const SPECS: Record<string, string> = {
  switch: smallTrain({ steps: STEPS, evalEvery: 10 }),
  dropless: smallTrain({ steps: STEPS, evalEvery: 10 }),
  deepseekmoe: smallTrain({ steps: STEPS, evalEvery: 10 }),
  deepseek_v3_style: smallTrain({ steps: STEPS, evalEvery: 10 }),
  expert_choice: smallTrain({ steps: STEPS, evalEvery: 10 }),
  mixture_of_tokens: smallTrain({ steps: STEPS, evalEvery: 10 }),
  soft_moe: smallTrain({ steps: STEPS, evalEvery: 10 }),
  molora: smallTrain({ steps: STEPS, evalEvery: 10 }),
  dense: smallTrain({ steps: STEPS, evalEvery: 10, accumulate: 2 }),
};
const EXPERT_PARALLEL = ['switch', 'dropless', 'deepseekmoe'];

interface Run {
  readonly spec: string;
  readonly exported: string;
  readonly moec: string;
  readonly python: string;
}
const runs = new Map<string, Run>();

/** A free TCP port on 127.0.0.1 for torch.distributed's rendezvous. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function expectCli(r: ReturnType<typeof moec>): void {
  if (r.status !== 0) throw new Error(show(r));
}

beforeAll(() => {
  for (const [name, train] of Object.entries(SPECS)) {
    const spec = writeSpec(dir, name, specText(`${name}.moe`, train, { context: 32 }));
    const exported = join(dir, `${name}-export`);
    const run: Run = { spec, exported, moec: join(dir, `${name}-moec`), python: join(dir, `${name}-python`) };
    expectCli(moec(['export', spec, '--target', 'pytorch', '-o', exported]));
    expectCli(moec(['train', spec, '--out', run.moec]));
    runPython([join(exported, 'train.py'), '--out', run.python, '--device', 'cpu']);
    runs.set(name, run);
  }
}, 900_000);

/** Per step: |a − b| / |b| of the training loss, and of the validation loss where both have one. */
function worstRelative(a: readonly StepMetrics[], b: readonly StepMetrics[]): number {
  expect(a.map((m) => m.step)).toEqual(b.map((m) => m.step));
  let worst = 0;
  a.forEach((m, i) => {
    const o = b[i]!;
    worst = Math.max(worst, Math.abs(m.loss - o.loss) / Math.abs(o.loss));
    for (const [k, v] of Object.entries(o.losses)) worst = Math.max(worst, Math.abs(m.losses[k]! - v) / Math.max(Math.abs(v), 1e-3));
    if (m.valLoss !== undefined || o.valLoss !== undefined) worst = Math.max(worst, Math.abs(m.valLoss! - o.valLoss!) / Math.abs(o.valLoss!));
  });
  return worst;
}

describe('train.py of the export against moec train', () => {
  for (const name of Object.keys(SPECS)) {
    it(`${name}: ${STEPS} steps, the same losses within 1e-3 relative`, () => {
      const run = runs.get(name)!;
      const ours = readMetricsStrict(join(run.moec, 'metrics.jsonl'));
      const theirs = readMetricsStrict(join(run.python, 'metrics.jsonl'));
      expect(ours).toHaveLength(STEPS);
      expect(worstRelative(theirs, ours)).toBeLessThan(1e-3);
      // The run learned something: the comparison is not of two constant curves.
      expect(ours.at(-1)!.loss).toBeLessThan(ours[0]!.loss - 0.05);
      // The same metrics per MoE layer: expert load and dropped fraction.
      theirs.forEach((m, i) => {
        expect(m.layers.map((l) => l.block)).toEqual(ours[i]!.layers.map((l) => l.block));
      });
    });
  }
});

describe('expert parallelism on torch.distributed (gloo, 2 processes)', () => {
  for (const name of EXPERT_PARALLEL) {
    it(`${name}: the 1-process losses within 1e-5 relative over ${STEPS} steps`, async () => {
      const run = runs.get(name)!;
      const out = join(dir, `${name}-ep2`);
      runPython([join(run.exported, 'train.py'), '--out', out, '--device', 'cpu', '--expert-parallel', '2', '--port', String(await freePort())]);
      const one = readMetricsStrict(join(run.python, 'metrics.jsonl'));
      const two = readMetricsStrict(join(out, 'metrics.jsonl'));
      expect(worstRelative(two, one)).toBeLessThan(1e-5);
      // Same routing: every layer's per-expert load and dropped fraction, step by step.
      two.forEach((m, i) => expect(m.layers.map((l) => [l.load, l.dropped])).toEqual(one[i]!.layers.map((l) => [l.load, l.dropped])));
    });
  }
  it('switch drops tokens in this run (capacity is exercised)', () => {
    const one = readMetricsStrict(join(runs.get('switch')!.python, 'metrics.jsonl'));
    expect(Math.max(...one.flatMap((m) => m.layers.map((l) => l.dropped)))).toBeGreaterThan(0);
  });
});

describe('checkpoints cross both ways', () => {
  for (const name of ['switch', 'deepseekmoe']) {
    for (const world of [1, 2]) {
      it(`${name}: moec -> PyTorch (${world} process${world > 1 ? 'es' : ''}) -> moec is bit-exact`, async () => {
        const run = runs.get(name)!;
        const src = join(run.moec, 'checkpoint.safetensors');
        const dst = join(dir, `${name}-roundtrip-${world}.safetensors`);
        runPython(['tests/export/roundtrip.py', run.exported, src, dst, String(world), String(await freePort())]);
        expect(Buffer.compare(readFileSync(dst), readFileSync(src))).toBe(0);
      });
    }
  }
  it('moec samples from and resumes the checkpoint train.py wrote', () => {
    const run = runs.get('switch')!;
    const ckpt = join(run.python, 'checkpoint.safetensors');
    const sampled = moec(['sample', ckpt, '--prompt', 'the ', '--tokens', '16', '--temperature', '0']);
    expect(sampled.status, show(sampled)).toBe(0);
    expect(sampled.stdout.length).toBeGreaterThan(16);
    const resumed = moec(['train', run.spec, '--out', run.python, '--resume', '--steps', String(STEPS + 2)]);
    expect(resumed.status, show(resumed)).toBe(0);
    const m = readMetricsStrict(join(run.python, 'metrics.jsonl'));
    expect(m.map((x) => x.step)).toEqual(Array.from({ length: STEPS + 2 }, (_, i) => i + 1));
  });
});
