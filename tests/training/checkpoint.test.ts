/**
 * Checkpoints:
 *   (a) round trip: loadCheckpoint returns every parameter of the compiled
 *       model (names and shapes as in manifest.json), the AdamW state of every
 *       trained parameter, and the metadata (spec text, step, RNG state,
 *       optimizer, data); a model resumed from it evaluates to the very
 *       validation loss the saving run measured (the parameters are
 *       reproduced bit for bit), and resuming with a changed spec is refused;
 *   (b) a `moec train` process SIGKILLed at seeded random moments after its
 *       first checkpoint (checkpoint_every 1) always leaves a loadable latest
 *       checkpoint with step >= 1, and nothing else in the folder (temp files
 *       of the atomic write included) can be taken for it;
 *   (c) `moec train --resume` on a killed run continues and finishes, and its
 *       per-step losses equal those of an uninterrupted `moec train`.
 * Needs a WebGPU adapter (fails without one).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { LOCK_FILE } from '../../runtime/run_lock.ts';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/model_runtime.ts';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../runtime/checkpoint.ts';
import { SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { Rng } from '../../runtime/rng.ts';
import { train } from '../../runtime/trainer.ts';
import { compileModel, moec, parseSpec, rawNumbers, readMetricsStrict, ROOT, show, smallSpec, smallTrain, specText, TempDirs, writeSpec } from './helpers.ts';

const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

describe('checkpoint round trip', () => {
  it('holds every parameter, the optimizer state and the metadata; loading it reproduces the model', async () => {
    const STEPS = 4;
    const spec = smallSpec('switch.moe', smallTrain({ steps: STEPS }), { context: 32 });
    const out = tmp.make('moec-ckpt-');
    const { gpu, modelDir } = await compileModel(spec, out);
    const data = new SyntheticCorpus(spec.train.seed);
    const result = await train({ spec, modelDir, outDir: out, data, gpu });
    const ck = loadCheckpoint(result.checkpoint);
    const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as Manifest;

    // Parameters: exactly the manifest's, with their shapes.
    const params = manifest.parameters;
    expect(params.length).toBeGreaterThan(10);
    for (const p of params) {
      const t = ck.tensors.get(p.name);
      expect(t, `checkpoint lacks ${p.name}`).toBeDefined();
      expect([...t!.shape], p.name).toEqual(p.shape);
      expect(t!.dtype).toBe('F32');
      expect(t!.data.length).toBe(p.shape.reduce((a, b) => a * b, 1));
      expect(t!.data.every(Number.isFinite), p.name).toBe(true);
    }
    // Optimizer state: AdamW m and v of every trained parameter, and nothing else.
    const trained = params.filter((p) => p.role === 'param');
    const optimizer = [...ck.tensors.keys()].filter((n) => n.startsWith('optimizer.')).sort();
    expect(optimizer).toEqual(trained.flatMap((p) => [`optimizer.${p.name}/m`, `optimizer.${p.name}/v`]).sort());
    for (const p of trained) {
      const m = ck.tensors.get(`optimizer.${p.name}/m`)!;
      const v = ck.tensors.get(`optimizer.${p.name}/v`)!;
      expect(m.data.length).toBe(ck.tensors.get(p.name)!.data.length);
      expect(v.data.length).toBe(m.data.length);
      expect(v.data.some((x) => x > 0), `${p.name}: v is all zero after ${STEPS} steps`).toBe(true);
      expect(v.data.every((x) => x >= 0 && Number.isFinite(x))).toBe(true);
    }
    expect(ck.tensors.size).toBe(params.length + optimizer.length);

    // Metadata.
    const rng = Rng.forName(spec.train.seed, 'train');
    for (let i = 0; i < STEPS; i++) rng.nextU32();
    const o = spec.train.optimizer;
    expect(ck.meta).toMatchObject({
      format: 1,
      spec: { path: spec.source.path, text: spec.source.text },
      step: STEPS,
      totalSteps: STEPS,
      seed: spec.train.seed,
      rng: rng.state,
      optimizer: { kind: 'adamw', lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay },
      data: data.description,
    });
    expect(Number.isNaN(Date.parse(ck.meta.savedAt))).toBe(false);

    // A model loaded from the checkpoint (the trainer's resume) measures the very
    // validation loss the saving run measured after its last step: same parameters.
    const before = readFileSync(result.checkpoint);
    const loaded = await train({ spec, modelDir, outDir: out, data, gpu, resume: true });
    expect(loaded.steps).toBe(STEPS);
    expect(loaded.firstValLoss).toBe(result.lastValLoss);
    expect(Buffer.compare(readFileSync(result.checkpoint), before)).toBe(0);

    // A changed spec (even only a comment) does not resume from it.
    const changed = parseSpec(`# changed\n${spec.source.text}`, spec.source.path);
    const other = await compileModel(changed, tmp.make('moec-ckpt-other-'));
    await expect(train({ spec: changed, modelDir: other.modelDir, outDir: out, data, gpu, resume: true })).rejects.toThrow(/different spec/);
  });
});

describe('a killed run', () => {
  const STEPS = 60;
  const TRIALS = 4;
  const text = specText('switch.moe', smallTrain({ steps: STEPS, evalEvery: 20, checkpointEvery: 1 }), { context: 32 });
  const specDir = tmp.make('moec-kill-spec-');
  const specPath = writeSpec(specDir, 'switch', text);
  const runs: string[] = [];
  /** Everything a run folder may hold: the run's files, the lock a killed trainer leaves (taken over by the next), and temp files of an interrupted atomic write. */
  const KNOWN = new Set([CHECKPOINT_FILE, 'metrics.jsonl', 'compiled', 'report.html', LOCK_FILE]);
  const TEMP = /^\.\d+\.\d+\.tmp$/;

  it(`always leaves a loadable latest checkpoint (${TRIALS} seeded random SIGKILLs)`, async () => {
    const rng = new Rng(20261128, 3);
    for (let trial = 0; trial < TRIALS; trial++) {
      const out = tmp.make(`moec-kill-${trial}-`);
      runs.push(out);
      // A random step to reach, then a random moment within a step (steps take tens of ms here).
      const target = 1 + rng.int(25);
      const delay = Math.floor(rng.uniform() * 60);
      const child = spawn(process.execPath, [join(ROOT, 'bin/moec.js'), 'train', specPath, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
      let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      void exited.then((d) => (done = d));
      const ckpt = join(out, CHECKPOINT_FILE);
      const metrics = join(out, 'metrics.jsonl');
      const lines = () => (existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0);
      const began = Date.now();
      while (!(existsSync(ckpt) && lines() >= target) && !done && Date.now() - began < 180_000) await new Promise((r) => setTimeout(r, 5));
      expect(existsSync(ckpt), `trial ${trial}: no checkpoint appeared\n${output}`).toBe(true);
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      const end = await exited;
      expect(end.signal, `trial ${trial}: the run ended before the kill (step ${target} + ${delay} ms)\n${output}`).toBe('SIGKILL');

      const ck = loadCheckpoint(ckpt);
      expect(ck.meta.step, `trial ${trial}`).toBeGreaterThanOrEqual(1);
      expect(ck.meta.step).toBeLessThan(STEPS);
      for (const [name, t] of ck.tensors) expect(t.data.every(Number.isFinite), `trial ${trial}: ${name}`).toBe(true);
      const strays = readdirSync(out).filter((f) => !KNOWN.has(f));
      expect(strays.filter((f) => !TEMP.test(f)), `trial ${trial}: unexpected files`).toEqual([]);
      // A temp file is hidden and never named like a checkpoint, so nothing lists or loads it as one.
      for (const f of strays) expect(f.includes('safetensors') || f.startsWith('checkpoint')).toBe(false);
      expect(statSync(ckpt).isFile()).toBe(true);
      // The metrics hold at least every step the checkpoint contains.
      const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).length;
      expect(steps).toBeGreaterThanOrEqual(ck.meta.step);
    }
  }, 300_000);

  it('--resume continues the killed run, finishes, and matches an uninterrupted run', () => {
    expect(runs.length).toBe(TRIALS);
    const out = runs.at(-1)!;
    const at = loadCheckpoint(join(out, CHECKPOINT_FILE)).meta.step;
    const r = moec(['train', specPath, '--out', out, '--resume']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toContain(`resuming from ${join(out, CHECKPOINT_FILE)} at step ${at}`);
    expect(r.stdout).toContain(`after ${STEPS} steps`);
    const ck = loadCheckpoint(join(out, CHECKPOINT_FILE));
    expect(ck.meta.step).toBe(STEPS);
    const metrics = readMetricsStrict(join(out, 'metrics.jsonl'));
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(existsSync(join(out, 'report.html'))).toBe(true);

    const straight = tmp.make('moec-kill-straight-');
    const s = moec(['train', specPath, '--out', straight]);
    expect(s.status, show(s)).toBe(0);
    for (const key of ['loss', 'gradNorm']) expect(rawNumbers(join(out, 'metrics.jsonl'), key), key).toEqual(rawNumbers(join(straight, 'metrics.jsonl'), key));
    const cs = loadCheckpoint(join(straight, CHECKPOINT_FILE));
    for (const [name, t] of cs.tensors) expect(Buffer.compare(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), Buffer.from(ck.tensors.get(name)!.data.buffer, ck.tensors.get(name)!.data.byteOffset, t.data.byteLength)), name).toBe(0);
  }, 300_000);
});
