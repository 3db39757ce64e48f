/**
 * `moec train`, `moec compare` and `moec sample` run as a user runs them
 * (`node bin/moec.js …`, stdout a pipe, temporary folders):
 *   - train prints plain progress lines (no bar, no escape codes) when stdout
 *     is not a terminal, and ends with the checkpoint, metrics and report
 *     paths; report.html is self-contained (no <script>, no http(s)
 *     references besides XML namespace names and the vega-lite $schema) and
 *     has SVG charts of loss, expert load, dropped fraction and sub-language
 *     specialisation;
 *   - training into the same --out again without --resume is refused
 *     (exit 1, pointing at --resume and --out) and leaves the old run as it was;
 *   - Ctrl-C (SIGINT) finishes the step, writes a checkpoint and the report,
 *     and exits 130;
 *   - compare of two tiny specs writes compare.html naming both, and gives
 *     each the same number of training tokens (different batch sizes, so
 *     different step counts);
 *   - compare --seeds 3 --match flops scales dense to switch's FLOPs, runs
 *     every seed and prints mean ± sd and a paired-t verdict; a spec it cannot
 *     match, or an unknown --match, is refused before any training;
 *   - sample decodes with the key/value cache (past the context too) or,
 *     with --no-cache and for expert choice, over the window, saying why;
 *   - sample prints text from a checkpoint, the same twice at temperature 0,
 *     and refuses a file that is not a checkpoint, or one whose bytes changed
 *     after it was written (its checksum), with a clear message; so does
 *     train --resume, before writing anything.
 * Needs a WebGPU adapter (the commands exit 1 without one, and these fail).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../runtime/checkpoint.ts';
import { serializeSafetensors } from '../../runtime/safetensors.ts';
import { hasStackTrace, moec, readMetricsStrict, ROOT, show, smallTrain, specText, TempDirs, writeSpec, type CliRun } from './helpers.ts';

const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

const STEPS = 6;
const dir = tmp.make('moec-cli-');
const switchSpec = writeSpec(dir, 'switch', specText('switch.moe', smallTrain({ steps: STEPS, evalEvery: 3 }), { context: 32 }));
const out = join(dir, 'run');
let trained: CliRun;

beforeAll(() => {
  trained = moec(['train', switchSpec, '--out', out]);
}, 240_000);

/** A copy of a checkpoint's bytes with one bit of its last tensor's data flipped (the value stays a finite float). */
function flipped(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[copy.length - 4] ^= 0x01;
  return copy;
}

/** The text of each <section> of a report, by its <h2> title. */
function sections(html: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const m of html.matchAll(/<section><h2>([^<]*)<\/h2>([\s\S]*?)<\/section>/g)) map.set(m[1]!, m[2]!);
  return map;
}

describe('moec train', () => {
  it('prints plain progress lines, then the checkpoint and report paths', () => {
    const r = trained;
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).not.toMatch(/[\r\x1b]/);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^switch validation loss before training: \d+\.\d{3}$/);
    const progress = lines.filter((l) => /^switch step \d+\/\d+ /.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const l of progress) expect(l).toMatch(/^switch step \d+\/6 {2}loss \d+\.\d{3} {2}val (\d+\.\d{3}|-) {2}\d+ tok\/s {2}ETA \d+ s$/);
    expect(progress[0]).toMatch(/^switch step 1\/6 /);
    expect(progress.at(-1)).toMatch(/^switch step 6\/6 /);
    expect(lines.at(-4)).toMatch(/^validation loss \d+\.\d{3} -> \d+\.\d{3} after 6 steps$/);
    const path = (label: string) => {
      const m = new RegExp(`^${label}:\\s+(.+)$`).exec(lines.find((l) => l.startsWith(`${label}:`)) ?? '');
      expect(m, `no "${label}:" line\n${r.stdout}`).not.toBeNull();
      return resolve(ROOT, m![1]!);
    };
    expect(lines.at(-3)).toMatch(/^checkpoint: /);
    expect(lines.at(-1)).toMatch(/^report: /);
    expect(path('checkpoint')).toBe(join(out, CHECKPOINT_FILE));
    expect(path('metrics')).toBe(join(out, 'metrics.jsonl'));
    expect(path('report')).toBe(join(out, 'report.html'));
    expect(loadCheckpoint(path('checkpoint')).meta.step).toBe(STEPS);
    expect(readMetricsStrict(path('metrics'))).toHaveLength(STEPS);
  });

  it('writes a self-contained report.html with SVG charts of loss, expert load, drops and specialisation', () => {
    expect(trained.status, show(trained)).toBe(0);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<(link|iframe|img|object|embed)\b/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?(https?:)?\/\//i);
    // XML namespace names are identifiers, never fetched; the vega-lite $schema string is allowed.
    const rest = html.replace(/\sxmlns(:\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g, '');
    const urls = [...rest.matchAll(/https?:\/\/[^\s"'<>)]*/g)].map((m) => m[0]).filter((u) => !u.startsWith('https://vega.github.io/schema/vega-lite/'));
    expect(urls).toEqual([]);
    const s = sections(html);
    for (const title of ['Loss', 'Expert load over time', 'Dropped assignments', 'Which expert handles which sub-language']) {
      expect(s.has(title), `no section "${title}" (sections: ${[...s.keys()].join(', ')})`).toBe(true);
      expect(s.get(title), title).toMatch(/<svg[\s\S]*<\/svg>/);
    }
    for (const lang of ['arithmetic', 'reversal', 'repetition', 'chatter']) expect(s.get('Which expert handles which sub-language')).toContain(lang);
    // every chart says its units
    expect(s.get('Loss')).toContain('cross-entropy (nats/byte)');
    expect(s.get('Loss')).toContain('optimizer step');
    expect(s.get('Dropped assignments')).toContain('dropped (% of choices)');
    expect(s.get('Router entropy')).toContain('entropy (nats)');
    expect(s.get('Expert load over time')).toContain('share of kept choices');
  });

  it('on real text, shows which expert handles which kind of byte', () => {
    const rdir = tmp.make('moec-cli-text-');
    const spec = writeSpec(rdir, 'switch', specText('switch.moe', smallTrain({ steps: 2 }), { context: 32 }));
    const r = moec(['train', spec, '--data', 'moby_dick', '--out', join(rdir, 'run')]);
    expect(r.status, show(r)).toBe(0);
    const s = sections(readFileSync(join(rdir, 'run', 'report.html'), 'utf8'));
    const bytes = s.get('Which expert handles which kind of byte');
    expect(bytes, [...s.keys()].join(', ')).toMatch(/<svg[\s\S]*<\/svg>/);
    for (const kind of ['lower-case letter', 'capital letter', 'space or newline', 'punctuation']) expect(bytes).toContain(kind);
  });

  it('refuses to train into the same --out without --resume, leaving the old run untouched', () => {
    expect(trained.status, show(trained)).toBe(0);
    const ckpt = join(out, CHECKPOINT_FILE);
    const before = { bytes: readFileSync(ckpt), mtime: statSync(ckpt).mtimeMs, metrics: readFileSync(join(out, 'metrics.jsonl')), report: readFileSync(join(out, 'report.html')) };
    const r = moec(['train', switchSpec, '--out', out]);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toContain(`${out} already holds a training run (step ${STEPS})`);
    expect(r.stderr).toMatch(/hint: .*--resume.*--out/);
    expect(hasStackTrace(r.stderr), show(r)).toBe(false);
    expect(Buffer.compare(readFileSync(ckpt), before.bytes)).toBe(0);
    expect(statSync(ckpt).mtimeMs).toBe(before.mtime);
    expect(Buffer.compare(readFileSync(join(out, 'metrics.jsonl')), before.metrics)).toBe(0);
    expect(Buffer.compare(readFileSync(join(out, 'report.html')), before.report)).toBe(0);
  });
});

describe('bad arguments', () => {
  it('--tokens -5 asks for a positive integer (usage error, exit 2)', () => {
    const r = moec(['sample', join(out, CHECKPOINT_FILE), '--tokens', '-5']);
    expect(r.status, show(r)).toBe(2);
    expect(r.stderr).toContain('expected a positive integer');
    expect(r.stderr).not.toContain('non-negative');
  });

  it('--resume of a run already at its last step says so and changes nothing', () => {
    expect(trained.status, show(trained)).toBe(0);
    const ckpt = join(out, CHECKPOINT_FILE);
    const before = { bytes: readFileSync(ckpt), metrics: readFileSync(join(out, 'metrics.jsonl')), compiled: statSync(join(out, 'compiled', 'model.ts')).mtimeMs };
    for (const args of [['--resume'], ['--resume', '--steps', String(STEPS - 2)]]) {
      const r = moec(['train', switchSpec, '--out', out, ...args]);
      expect(r.status, show(r)).toBe(1);
      expect(r.stderr).toContain(`is already at step ${STEPS}, and training stops at step ${args.length > 1 ? STEPS - 2 : STEPS}`);
      expect(r.stderr).toMatch(new RegExp(`hint: pass --steps N with N > ${STEPS}`));
      expect(hasStackTrace(r.stderr), show(r)).toBe(false);
    }
    expect(Buffer.compare(readFileSync(ckpt), before.bytes)).toBe(0);
    expect(Buffer.compare(readFileSync(join(out, 'metrics.jsonl')), before.metrics)).toBe(0);
    expect(statSync(join(out, 'compiled', 'model.ts')).mtimeMs).toBe(before.compiled);
  });

  it('--resume of a run whose checkpoint bytes were flipped names the corruption and writes nothing', () => {
    expect(trained.status, show(trained)).toBe(0);
    const copy = join(tmp.make('moec-corrupt-'), 'run');
    cpSync(out, copy, { recursive: true });
    const ckpt = join(copy, CHECKPOINT_FILE);
    writeFileSync(ckpt, flipped(readFileSync(ckpt)));
    const before = { bytes: readFileSync(ckpt), metrics: readFileSync(join(copy, 'metrics.jsonl')), compiled: statSync(join(copy, 'compiled', 'model.ts')).mtimeMs };
    const r = moec(['train', switchSpec, '--out', copy, '--resume', '--steps', String(STEPS + 2)]);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toContain('is corrupt: its data does not match the checksum in its metadata');
    expect(hasStackTrace(r.stderr), show(r)).toBe(false);
    expect(Buffer.compare(readFileSync(ckpt), before.bytes)).toBe(0);
    expect(Buffer.compare(readFileSync(join(copy, 'metrics.jsonl')), before.metrics)).toBe(0);
    expect(statSync(join(copy, 'compiled', 'model.ts')).mtimeMs).toBe(before.compiled);
  });

  it('an --out that cannot be created is a file-system error with a hint, not an internal error', () => {
    const file = join(tmp.make('moec-notdir-'), 'a-file');
    writeFileSync(file, 'not a folder');
    const r = moec(['train', switchSpec, '--out', join(file, 'run')]);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^moec: cannot mkdir ${join(file, 'run').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: a part of the path is a file, not a folder \\(ENOTDIR\\)$`, 'm'));
    expect(r.stderr).toMatch(/^ {2}hint: check the path$/m);
    expect(r.stderr).not.toContain('internal error');
    expect(hasStackTrace(r.stderr), show(r)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('not a folder');
  });

  it('a --prompt that is not valid UTF-8 is refused, not silently replaced', () => {
    const r = moec(['sample', join(out, CHECKPOINT_FILE), '--tokens', '4', '--prompt', 'ab\uFFFDc']);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/--prompt is not valid UTF-8/);
    expect(r.stdout).toBe('');
  });
});

describe('one trainer per run folder', () => {
  it('refuses a second trainer naming the first one\'s PID, and takes over the lock a SIGKILLed run left', async () => {
    const ldir = tmp.make('moec-lock-');
    const spec = writeSpec(ldir, 'switch', specText('switch.moe', smallTrain({ steps: 400, evalEvery: 400, checkpointEvery: 2 }), { context: 32 }));
    const lout = join(ldir, 'run');
    const child = spawn(process.execPath, [join(ROOT, 'bin/moec.js'), 'train', spec, '--out', lout], { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'] });
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    const metrics = join(lout, 'metrics.jsonl');
    const lines = () => (existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0);
    const began = Date.now();
    while (lines() < 3 && child.exitCode === null && Date.now() - began < 180_000) await new Promise((r) => setTimeout(r, 20));
    const second = moec(['train', spec, '--out', lout, '--resume']);
    expect(second.status, show(second)).toBe(1);
    expect(second.stderr).toContain(`${lout} is being trained by another moec process (PID ${child.pid})`);
    expect(hasStackTrace(second.stderr), show(second)).toBe(false);
    child.kill('SIGKILL');
    await exited;
    // The killed run's lock is still there, and the next trainer takes it over.
    expect(readFileSync(join(lout, 'train.lock'), 'utf8').trim()).toBe(String(child.pid));
    const step = loadCheckpoint(join(lout, CHECKPOINT_FILE)).meta.step;
    const resumed = moec(['train', spec, '--out', lout, '--resume', '--steps', String(step + 2)]);
    expect(resumed.status, show(resumed)).toBe(0);
    expect(loadCheckpoint(join(lout, CHECKPOINT_FILE)).meta.step).toBe(step + 2);
    expect(existsSync(join(lout, 'train.lock'))).toBe(false);
  }, 300_000);
});

describe('Ctrl-C', () => {
  it('stops moec train after the current step with a checkpoint, exit 130', async () => {
    const idir = tmp.make('moec-sigint-');
    const spec = writeSpec(idir, 'switch', specText('switch.moe', smallTrain({ steps: 400, evalEvery: 400, checkpointEvery: 400 }), { context: 32 }));
    const iout = join(idir, 'run');
    const child = spawn(process.execPath, [join(ROOT, 'bin/moec.js'), 'train', spec, '--out', iout], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const metrics = join(iout, 'metrics.jsonl');
    const lines = () => (existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0);
    const began = Date.now();
    while (lines() < 2 && child.exitCode === null && Date.now() - began < 180_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const code = await exited;
    const r = { status: code, signal: null, stdout, stderr };
    expect(code, show(r)).toBe(130);
    expect(stdout).toContain('switch interrupted: finishing this step and writing a checkpoint');
    const m = /after (\d+) steps \(stopped early\)$/m.exec(stdout);
    expect(m, show(r)).not.toBeNull();
    const step = Number(m![1]);
    expect(step).toBeGreaterThanOrEqual(2);
    expect(step).toBeLessThan(400);
    expect(loadCheckpoint(join(iout, CHECKPOINT_FILE)).meta.step).toBe(step);
    expect(readMetricsStrict(metrics)).toHaveLength(step);
    expect(existsSync(join(iout, 'report.html'))).toBe(true);
    expect(hasStackTrace(stderr), show(r)).toBe(false);
  }, 240_000);
});

describe('moec compare', () => {
  it('trains two specs on the same token budget and writes compare.html naming both', () => {
    const cdir = tmp.make('moec-compare-');
    // switch: batch 8 (256 tokens a step); dense: batch 4 (128 tokens a step).
    const a = writeSpec(cdir, 'switch', specText('switch.moe', smallTrain({ batch: 8, steps: 4 }), { context: 32 }));
    const b = writeSpec(cdir, 'dense', specText('dense.moe', smallTrain({ batch: 4, steps: 4 }), { context: 32 }));
    const cout = join(cdir, 'out');
    const r = moec(['compare', a, b, '--steps', '4', '--out', cout]);
    expect(r.status, show(r)).toBe(0);
    const budget = 4 * 8 * 32;
    const tokens = (name: string) => readMetricsStrict(join(cout, name, 'metrics.jsonl')).reduce((n, m) => n + m.tokens, 0);
    expect(tokens('switch')).toBe(budget);
    expect(tokens('dense')).toBe(budget);
    expect(readMetricsStrict(join(cout, 'switch', 'metrics.jsonl'))).toHaveLength(4);
    expect(readMetricsStrict(join(cout, 'dense', 'metrics.jsonl'))).toHaveLength(8);
    const html = readFileSync(join(cout, 'compare.html'), 'utf8');
    expect(html).toContain('switch');
    expect(html).toContain('dense');
    expect(html).toContain(`Budget: ${budget} training tokens`);
    // The summary table's tokens column shows what each model really saw.
    expect(html.match(new RegExp(`<td>${budget}</td>`, 'g'))).toHaveLength(2);
    expect(html).not.toMatch(/<script/i);
    expect(r.stdout).toMatch(/^switch\s+final validation loss \d+\.\d{4} \(1 seed\), best \d+\.\d{4} \(1 seed\)$/m);
    expect(r.stdout).toMatch(/^dense\s+final validation loss \d+\.\d{4} \(1 seed\), best/m);
    expect(r.stdout).toMatch(/seed noise unknown with one seed \(use --seeds 3 or more\)$/m);
    expect(r.stdout).toMatch(/^report: .*compare\.html$/m);
  });

  it('--seeds 3 --match flops: scales dense to switch\'s FLOPs, runs every seed, and gives mean, spread and a verdict', () => {
    const cdir = tmp.make('moec-compare-seeds-');
    const a = writeSpec(cdir, 'switch', specText('switch.moe', smallTrain({ batch: 4, steps: 3, evalEvery: 3 }), { context: 32 }));
    const b = writeSpec(cdir, 'dense', specText('dense.moe', smallTrain({ batch: 4, steps: 3, evalEvery: 3 }), { context: 32 }));
    const cout = join(cdir, 'out');
    const r = moec(['compare', a, b, '--seeds', '3', '--match', 'flops', '--out', cout]);
    expect(r.status, show(r)).toBe(0);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stdout).toMatch(/^budget: 384 training tokens per run .*\(--match flops\); seeds 1, 2, 3$/m);
    // every run's cost, and dense's scale factor within 2% of switch's FLOPs
    const m = /^ {2}dense\s+.* MFLOP\/token, hidden sizes x(\d\.\d{3}) \(flops (-?\d+\.\d)% from switch's\)$/m.exec(r.stdout);
    expect(m, show(r)).not.toBeNull();
    expect(Math.abs(Number(m![2]))).toBeLessThan(2);
    // the scaled spec is kept beside its runs, and checks
    const scaled = readFileSync(join(cout, 'dense', 'spec.moe'), 'utf8');
    expect(scaled).toMatch(/^# dense from .*FFN hidden sizes x\d\.\d{4} to match switch's flops/);
    expect(moec(['check', join(cout, 'dense', 'spec.moe')]).status).toBe(0);
    for (const name of ['switch', 'dense']) for (const seed of [1, 2, 3]) expect(readMetricsStrict(join(cout, name, `seed-${seed}`, 'metrics.jsonl'))).toHaveLength(3);
    // different seeds train differently
    const last = (seed: number) => readMetricsStrict(join(cout, 'switch', `seed-${seed}`, 'metrics.jsonl')).at(-1)!.loss;
    expect(last(1)).not.toBe(last(2));
    expect(r.stdout).toMatch(/^switch\s+final validation loss \d+\.\d{4} ± \d+\.\d{4} \(3 seeds\), best \d+\.\d{4} ± \d+\.\d{4} \(3 seeds\)$/m);
    expect(r.stdout).toMatch(/^(switch vs dense|dense vs switch): [+-]\d+\.\d{4} ± \d+\.\d{4} \(paired t -?(\d+\.\d{2}|inf), 2 df, 95% needs 4\.30\): (beyond|within) seed noise/m);
    const html = sections(readFileSync(join(cout, 'compare.html'), 'utf8'));
    expect(html.get('Summary')).toContain('3 seeds');
    expect(html.get('Summary')).toContain('forward FLOPs per token');
    expect(html.get('Beyond noise?')).toMatch(/paired t/);
    for (const title of ['Validation loss against tokens', 'Training loss against training compute', 'Expert load imbalance', 'Dropped choices', 'Router entropy']) expect(html.get(title), title).toContain('<svg');
  });

  it('refuses an unknown --match and a spec it cannot match before training anything', () => {
    const cdir = tmp.make('moec-compare-bad-');
    const a = writeSpec(cdir, 'switch', specText('switch.moe', smallTrain({ steps: 2 }), { context: 32 }));
    const b = writeSpec(cdir, 'deepseekmoe', specText('deepseekmoe.moe', smallTrain({ steps: 2 }), { context: 32 }));
    const cout = join(cdir, 'out');
    const bad = moec(['compare', a, b, '--match', 'compute', '--out', cout]);
    expect(bad.status, show(bad)).toBe(2);
    expect(bad.stderr).toMatch(/unknown --match compute/);
    const r = moec(['compare', a, b, '--match', 'flops', '--out', cout]);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/deepseekmoe costs more than switch even with hidden sizes near zero/);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(existsSync(cout)).toBe(false);
  });
});

describe('moec sample', () => {
  it('prints text from a checkpoint; temperature 0 gives the same text every time', () => {
    expect(trained.status, show(trained)).toBe(0);
    const ckpt = join(out, CHECKPOINT_FILE);
    const args = ['sample', ckpt, '--prompt', '12+7=', '--tokens', '16', '--temperature', '0'];
    const first = moec(args);
    expect(first.status, show(first)).toBe(0);
    expect(first.stdout.startsWith('12+7=')).toBe(true);
    expect(first.stdout.length).toBeGreaterThan('12+7=\n'.length);
    expect(hasStackTrace(first.stderr)).toBe(false);
    const second = moec(args);
    expect(second.status, show(second)).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    // switch has a capacity: with the cache a lone new token is never dropped, and the note says so
    expect(first.stderr).toMatch(/^moec: note: token_choice routing has a capacity; .*capacity never drops one/m);
  });

  it('samples past the context with the cache (it restarts from the last context/2 bytes) and without it (--no-cache)', () => {
    const ckpt = join(out, CHECKPOINT_FILE);
    // context 32: 5 prompt bytes + 60 new ones pass the end of the cache twice
    for (const extra of [[], ['--no-cache']]) {
      const r = moec(['sample', ckpt, '--prompt', '12+7=', '--tokens', '60', '--temperature', '0.8', ...extra]);
      expect(r.status, show(r)).toBe(0);
      expect(Buffer.byteLength(r.stdout.replace(/\n$/, ''), 'utf8'), show(r)).toBeGreaterThanOrEqual(5 + 40);
      expect(r.stdout.startsWith('12+7=')).toBe(true);
      expect(hasStackTrace(r.stderr), show(r)).toBe(false);
    }
  });

  it('samples expert choice over the window (no cache) and says why', () => {
    const edir = tmp.make('moec-sample-ec-');
    const spec = writeSpec(edir, 'expert_choice', specText('expert_choice.moe', smallTrain({ steps: 2 }), { context: 32 }));
    const run = moec(['train', spec, '--out', join(edir, 'run')]);
    expect(run.status, show(run)).toBe(0);
    const r = moec(['sample', join(edir, 'run', CHECKPOINT_FILE), '--prompt', 'ab', '--tokens', '4']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stderr).toMatch(/^moec: note: expert_choice routing: expert choice ranks the tokens of a whole batch, so each byte re-runs the whole window \(no key\/value cache\)/m);
    expect(r.stdout.startsWith('ab')).toBe(true);
  });

  const bad: { name: string; make: (d: string) => string; message: RegExp }[] = [
    { name: 'a spec file', make: () => switchSpec, message: /not a readable checkpoint/ },
    {
      name: 'a safetensors file that is not a moec checkpoint',
      make: (d) => {
        const p = join(d, 'weights.safetensors');
        writeFileSync(p, serializeSafetensors(new Map([['w', { dtype: 'F32' as const, shape: [2], data: new Float32Array([1, 2]) }]])));
        return p;
      },
      message: /has no moec metadata/,
    },
    { name: 'a missing file', make: (d) => join(d, 'nothing.safetensors'), message: /not a readable checkpoint \(no such file\)/ },
    {
      name: 'a checkpoint with one flipped data bit',
      make: (d) => {
        const p = join(d, CHECKPOINT_FILE);
        writeFileSync(p, flipped(readFileSync(join(out, CHECKPOINT_FILE))));
        return p;
      },
      message: /is corrupt: its data does not match the checksum/,
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with a clear message`, () => {
      const path = c.make(tmp.make('moec-sample-bad-'));
      const r = moec(['sample', path, '--tokens', '4']);
      expect(r.status, show(r)).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^moec: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${c.message.source}`, 'm'));
      expect(r.stderr).toMatch(/^ {2}hint: pass a checkpoint\.safetensors written by moec train$/m);
      expect(hasStackTrace(r.stderr), show(r)).toBe(false);
      expect(r.stdout).toBe('');
    });
  }
});
