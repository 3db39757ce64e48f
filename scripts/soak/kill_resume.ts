/**
 * Kill-and-resume soak: one `moec train` run SIGKILLed at N seeded random
 * moments, resumed after each, then finished; checks after every kill that
 * the checkpoint loads (its checksum verified), that metrics.jsonl holds
 * steps 1..k with no duplicate or gap once the run resumes, and at the end
 * that the final weights equal an uninterrupted run's bit for bit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../runtime/checkpoint.ts';
import { Rng } from '../../runtime/rng.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MOEC = join(ROOT, 'bin', 'moec.js');

/** What one soak found. */
export interface KillReport {
  readonly kills: number;
  /** Checkpoint step seen after each kill. */
  readonly stepsAtKill: readonly number[];
  readonly steps: number;
  readonly problems: readonly string[];
  readonly seconds: number;
}

const SPEC = (steps: number) => `model soak {
  vocab 256  context 32  width 64  depth 2  heads 4
  ffn moe every 1 {
    experts 8 { hidden 128  activation gelu }
    route token_choice { top_k 2  capacity_factor 1.25  balance_loss 0.01 }
  }
}
train { data synthetic  batch 8  steps ${steps}  optimizer adamw { lr 3e-3 }  schedule cosine { warmup 4 }  seed 7  eval_every ${steps}  checkpoint_every 1 }
`;

function metricSteps(path: string): number[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  // A killed writer may leave a torn last line; resume drops it.
  return lines.filter(Boolean).flatMap((l) => {
    try {
      return [(JSON.parse(l) as { step: number }).step];
    } catch {
      return [];
    }
  });
}

/** Runs the soak: `kills` SIGKILLs over a run of `steps` steps. */
export async function killResumeSoak(kills: number, steps: number, seed: number): Promise<KillReport> {
  const began = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'moec-soak-'));
  const problems: string[] = [];
  const stepsAtKill: number[] = [];
  try {
    const spec = join(dir, 'soak.moe');
    writeFileSync(spec, SPEC(steps));
    const out = join(dir, 'run');
    const rng = new Rng(seed, 5);
    for (let k = 0; k < kills; k++) {
      const args = ['train', spec, '--out', out, ...(existsSync(join(out, CHECKPOINT_FILE)) ? ['--resume'] : [])];
      const child = spawn(process.execPath, [MOEC, ...args], { cwd: ROOT, stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, signal) => res(signal)));
      // Some random number of further steps, then a random moment within a step.
      const before = metricSteps(join(out, 'metrics.jsonl')).length;
      const target = before + 1 + rng.int(Math.max(1, Math.floor(steps / kills)));
      const t0 = Date.now();
      while (metricSteps(join(out, 'metrics.jsonl')).length < target && child.exitCode === null && Date.now() - t0 < 300_000) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(rng.uniform() * 80)));
      child.kill('SIGKILL');
      if ((await exited) !== 'SIGKILL') {
        problems.push(`kill ${k}: the run ended before it was killed`);
        break;
      }
      try {
        const ck = loadCheckpoint(join(out, CHECKPOINT_FILE));
        stepsAtKill.push(ck.meta.step);
        const seen = metricSteps(join(out, 'metrics.jsonl'));
        if (seen.length < ck.meta.step) problems.push(`kill ${k}: metrics hold ${seen.length} steps, the checkpoint ${ck.meta.step}`);
        if (seen.some((step, i) => step !== i + 1)) problems.push(`kill ${k}: metrics steps are not 1, 2, 3, ...: ${seen.join(',')}`);
      } catch (e) {
        problems.push(`kill ${k}: the checkpoint does not load: ${(e as Error).message}`);
      }
    }
    const finish = spawnSync(process.execPath, [MOEC, 'train', spec, '--out', out, '--resume'], { cwd: ROOT, encoding: 'utf8' });
    if (finish.status !== 0) problems.push(`the final resume failed: ${finish.stderr}`);
    const steps1 = metricSteps(join(out, 'metrics.jsonl'));
    const expected = Array.from({ length: steps }, (_, i) => i + 1);
    if (JSON.stringify(steps1) !== JSON.stringify(expected)) problems.push(`metrics steps are not exactly 1..${steps}: ${steps1.join(',')}`);
    const straight = join(dir, 'straight');
    const s = spawnSync(process.execPath, [MOEC, 'train', spec, '--out', straight], { cwd: ROOT, encoding: 'utf8' });
    if (s.status !== 0) problems.push(`the uninterrupted run failed: ${s.stderr}`);
    else {
      const a = loadCheckpoint(join(out, CHECKPOINT_FILE));
      const b = loadCheckpoint(join(straight, CHECKPOINT_FILE));
      for (const [name, t] of b.tensors) {
        const u = a.tensors.get(name);
        const same = u && Buffer.compare(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)) === 0;
        if (!same) problems.push(`final ${name} differs from the uninterrupted run's`);
      }
    }
    return { kills: stepsAtKill.length, stepsAtKill, steps, problems, seconds: (Date.now() - began) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
