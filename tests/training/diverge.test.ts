/**
 * A value that stops being finite stops training with a message naming the
 * step and the tensor, and keeps the last good checkpoint:
 *   - train() with injectNanAtStep 5 (a parameter poisoned with NaN before
 *     step 5) and checkpoint_every 2 throws DivergedError naming step 5 and
 *     the tensor; the checkpoint on disk is step 4's, loads, and is finite;
 *     metrics.jsonl ends at step 4;
 *   - `moec train` of a spec that blows up by itself (SGD at lr 10 with
 *     momentum, no clipping, checkpoint_every 1) exits 1 with that message
 *     and a hint, no stack trace, and leaves the checkpoint of the step
 *     before the one named.
 * Needs a WebGPU adapter (fails without one).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../runtime/checkpoint.ts';
import { SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { DivergedError, train } from '../../runtime/trainer.ts';
import { compileModel, hasStackTrace, moec, readMetricsStrict, show, smallSpec, smallTrain, specText, TempDirs, writeSpec } from './helpers.ts';

const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

describe('divergence', () => {
  it('a NaN injected before step 5 stops training at step 5, naming the tensor, keeping step 4', async () => {
    const spec = smallSpec('switch.moe', smallTrain({ steps: 10, checkpointEvery: 2 }), { context: 32 });
    const out = tmp.make('moec-diverge-');
    const { gpu, modelDir } = await compileModel(spec, out);
    const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as { parameters: { name: string }[]; losses: string[] };
    const error = await train({ spec, modelDir, outDir: out, data: new SyntheticCorpus(1), gpu, injectNanAtStep: 5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DivergedError);
    const e = error as DivergedError;
    expect(e.step).toBe(5);
    expect(e.message).toMatch(/^step 5: /);
    expect(e.tensor.length).toBeGreaterThan(0);
    expect(e.message).toContain(e.tensor);
    // The tensor is a loss, a parameter or a gradient of this model.
    const names = [...manifest.losses, ...manifest.parameters.map((p) => p.name)];
    expect(names.some((n) => e.tensor.includes(n)), e.tensor).toBe(true);
    expect(e.message).toContain('not finite');
    expect(e.checkpoint).toBe(`${join(out, CHECKPOINT_FILE)} (step 4)`);
    expect(e.message).toContain(`${join(out, CHECKPOINT_FILE)} (step 4)`);

    const ck = loadCheckpoint(join(out, CHECKPOINT_FILE));
    expect(ck.meta.step).toBe(4);
    for (const [name, t] of ck.tensors) expect(t.data.every(Number.isFinite), name).toBe(true);
    expect(readMetricsStrict(join(out, 'metrics.jsonl')).map((m) => m.step)).toEqual([1, 2, 3, 4]);
  });

  it('before the first checkpoint, the message says none was written', async () => {
    const spec = smallSpec('dense.moe', smallTrain({ steps: 4, checkpointEvery: 4 }), { context: 32 });
    const out = tmp.make('moec-diverge-early-');
    const { gpu, modelDir } = await compileModel(spec, out);
    const run = train({ spec, modelDir, outDir: out, data: new SyntheticCorpus(1), gpu, injectNanAtStep: 2 });
    await expect(run).rejects.toThrow(/^step 2: .* is not finite .*no checkpoint had been written yet/);
  });

  it('moec train of a spec that blows up exits 1 naming the step and tensor, without a stack trace', () => {
    const text = specText('switch.moe', 'train { data synthetic batch 8 steps 40 optimizer sgd { lr 10 momentum 0.9 } schedule constant { warmup 0 } clip 0 seed 1 eval_every 40 checkpoint_every 1 }', { context: 32 });
    const dir = tmp.make('moec-diverge-cli-');
    const out = join(dir, 'run');
    const r = moec(['train', writeSpec(dir, 'switch', text), '--out', out]);
    expect(r.status, show(r)).toBe(1);
    expect(hasStackTrace(r.stderr), show(r)).toBe(false);
    const m = /^moec: step (\d+): (\S+.*) is not finite \(NaN or Inf\); training stopped, the last good checkpoint is (.+) \(step (\d+)\)$/m.exec(r.stderr);
    expect(m, show(r)).not.toBeNull();
    const [, step, , path, kept] = m!;
    expect(Number(kept)).toBe(Number(step) - 1);
    expect(r.stderr).toMatch(/^ {2}hint: /m);
    expect(path).toBe(join(out, CHECKPOINT_FILE));
    const ck = loadCheckpoint(path!);
    expect(ck.meta.step).toBe(Number(kept));
    for (const [name, t] of ck.tensors) expect(t.data.every(Number.isFinite), name).toBe(true);
  });
});
