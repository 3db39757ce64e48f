/**
 * Disk-full soak (root on Linux only: it mounts a small tmpfs): a run whose
 * disk fills up between two checkpoints must stop with a clear file-system
 * error (exit 1, no stack trace), keep its last good checkpoint loadable and
 * leave no temp file; once space is freed, --resume finishes it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../runtime/checkpoint.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MOEC = join(ROOT, 'bin', 'moec.js');

export interface DiskFullReport {
  readonly ran: boolean;
  /** Why it did not run (not root, mount refused). */
  readonly skipped?: string;
  readonly stepAtFull?: number;
  readonly message?: string;
  readonly problems: readonly string[];
}

const SPEC = `model full {
  vocab 256  context 32  width 64  depth 2  heads 4
  ffn moe every 1 {
    experts 8 { hidden 128  activation gelu }
    route token_choice { top_k 2  capacity_factor 1.25 }
  }
}
train { data synthetic  batch 8  steps 400  optimizer adamw { lr 3e-3 }  seed 3  eval_every 400  checkpoint_every 1 }
`;

export async function diskFullSoak(): Promise<DiskFullReport> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return { ran: false, skipped: 'needs root on Linux to mount a tmpfs', problems: [] };
  const mnt = mkdtempSync(join(tmpdir(), 'moec-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt], { encoding: 'utf8' });
  if (mounted.status !== 0) return { ran: false, skipped: `mount refused: ${mounted.stderr.trim()}`, problems: [] };
  const problems: string[] = [];
  try {
    const spec = join(mnt, 'full.moe');
    writeFileSync(spec, SPEC);
    const out = join(mnt, 'run');
    const child = spawn(process.execPath, [MOEC, 'train', spec, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const metrics = join(out, 'metrics.jsonl');
    const lines = () => (existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0);
    const t0 = Date.now();
    while (!(existsSync(join(out, CHECKPOINT_FILE)) && lines() >= 3) && child.exitCode === null && Date.now() - t0 < 300_000) await new Promise((r) => setTimeout(r, 10));
    // Fill the disk, leaving less room than one checkpoint.
    const fs = statfsSync(mnt);
    writeFileSync(join(mnt, 'filler'), Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 64 * 1024)));
    const code = await exited;
    const message = stderr.trim().split('\n').slice(-2).join(' / ');
    if (code !== 1) problems.push(`a full disk ended the run with exit ${code}, not 1: ${stderr}`);
    if (!/no space is left on the device/.test(stderr)) problems.push(`the message does not say the disk is full: ${stderr}`);
    if (/\n\s+at .+:\d+:\d+|internal error/.test(stderr)) problems.push(`a stack trace or internal error: ${stderr}`);
    let stepAtFull: number | undefined;
    try {
      stepAtFull = loadCheckpoint(join(out, CHECKPOINT_FILE)).meta.step;
    } catch (e) {
      problems.push(`the last checkpoint does not load after the disk filled: ${(e as Error).message}`);
    }
    const temps = readdirSync(out).filter((f) => /\.tmp$/.test(f));
    if (temps.length) problems.push(`temp files left: ${temps.join(', ')}`);
    rmSync(join(mnt, 'filler'));
    const resumed = spawnSync(process.execPath, [MOEC, 'train', spec, '--out', out, '--resume', '--steps', String((stepAtFull ?? 0) + 5)], { cwd: ROOT, encoding: 'utf8' });
    if (resumed.status !== 0) problems.push(`--resume after freeing space failed: ${resumed.stderr}`);
    return { ran: true, ...(stepAtFull !== undefined ? { stepAtFull } : {}), message, problems };
  } finally {
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
}
