/**
 * Routing record and replay (`moec train --record-routing FILE`,
 * `--replay-routing FILE`): recording changes no number; replaying a
 * recording reproduces the recorded run bit for bit (checkpoint tensors and
 * every logged loss); a replayed selection really replaces the router's (a
 * doctored file moves every token's first choice to expert 0); and bad uses
 * get clear messages. The spec has top-p routing (places left unused, −1)
 * and two micro-batches per step.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../runtime/checkpoint.ts';
import { SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { train } from '../../runtime/trainer.ts';
import { compileModel, hasStackTrace, moec, parseSpec, rawNumbers, readMetricsStrict, ROOT, show, TempDirs, writeSpec } from './helpers.ts';

const STEPS = 4;
const TEXT = readFileSync(join(ROOT, 'specs/routing/top_p.moe'), 'utf8')
  .replace(/^train \{.*\}$/m, `train { data synthetic  batch 4  accumulate 2  steps ${STEPS}  optimizer adamw { lr 3e-3 }  seed 3  eval_every ${STEPS}  checkpoint_every ${STEPS} }`)
  .replace('context 64', 'context 16')
  // Early in training the scores are near uniform (1/8): p 0.2 stops after 2 of the 4 places.
  .replace('top_p 0.6', 'top_p 0.2');
const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

async function run(mode: 'record' | 'replay' | undefined, file?: string, o: { out?: string; stopAfter?: number; resume?: boolean } = {}): Promise<string> {
  const spec = parseSpec(TEXT, 'specs/routing/top_p.moe');
  const out = o.out ?? tmp.make(`moec-replay-${mode ?? 'plain'}-`);
  const { gpu, modelDir } = await compileModel(spec, out, mode);
  const routing = mode === 'record' ? { record: file! } : mode === 'replay' ? { replay: file! } : undefined;
  // stopAfter: stop (with a checkpoint) after that step, as Ctrl-C does; the schedule stays that of the whole run.
  let done = 0;
  const stop = o.stopAfter ? { events: { step: () => void done++ }, shouldStop: () => done >= o.stopAfter! } : {};
  await train({ spec, modelDir, outDir: out, data: new SyntheticCorpus(spec.train.seed), gpu, ...(routing ? { routing } : {}), ...stop, resume: !!o.resume });
  return out;
}

function checkpointBits(dir: string): Map<string, string> {
  const ck = loadCheckpoint(join(dir, 'checkpoint.safetensors'));
  return new Map([...ck.tensors].map(([name, t]) => [name, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')]));
}

describe('routing record and replay', () => {
  const dir = tmp.make('moec-replay-files-');
  const file = join(dir, 'routing.bin');
  let recorded = '';

  it('recording changes no number, and writes every micro-batch of every step', async () => {
    recorded = await run('record', file);
    const plain = await run(undefined);
    expect(checkpointBits(recorded)).toEqual(checkpointBits(plain));
    expect(rawNumbers(join(recorded, 'metrics.jsonl'), 'loss')).toEqual(rawNumbers(join(plain, 'metrics.jsonl'), 'loss'));
    const bytes = readFileSync(file);
    const header = JSON.parse(bytes.subarray(0, bytes.indexOf(0x0a)).toString()) as { tables: { name: string; shape: number[] }[] };
    expect(header.tables.map((t) => t.name)).toEqual(['blocks.0.moe.token_expert', 'blocks.1.moe.token_expert']);
    const perRecord = 2 + header.tables.reduce((n, t) => n + t.shape[0]! * t.shape[1]!, 0);
    expect(bytes.length - bytes.indexOf(0x0a) - 1).toBe(STEPS * 2 * perRecord * 4);
    // top-p left some places unused: the recording holds −1 entries.
    expect(new Int32Array(bytes.buffer.slice(bytes.indexOf(0x0a) + 1)).includes(-1)).toBe(true);
  }, 600_000);

  it('replaying the recording reproduces the run bit for bit', async () => {
    const replayed = await run('replay', file);
    expect(checkpointBits(replayed)).toEqual(checkpointBits(recorded));
    for (const key of ['loss', 'gradNorm']) expect(rawNumbers(join(replayed, 'metrics.jsonl'), key), key).toEqual(rawNumbers(join(recorded, 'metrics.jsonl'), key));
  }, 600_000);

  it('a resumed recording continues the file where the checkpoint is', async () => {
    const part = join(dir, 'resumed.bin');
    const out = await run('record', part, { stopAfter: 2 });
    await run('record', part, { out, resume: true });
    expect(readFileSync(part).equals(readFileSync(file))).toBe(true);
  }, 600_000);

  it('a replayed selection replaces the router\'s: every first choice moved to expert 0', async () => {
    const bytes = readFileSync(file);
    const start = bytes.indexOf(0x0a) + 1;
    const header = JSON.parse(bytes.subarray(0, start - 1).toString()) as { tables: { shape: [number, number] }[] };
    const ints = new Int32Array(bytes.buffer.slice(start));
    const [N, k] = header.tables[0]!.shape;
    const perRecord = 2 + header.tables.reduce((n, t) => n + t.shape[0] * t.shape[1], 0);
    for (let r = 0; r * perRecord < ints.length; r++) {
      // Layer 0 only: each token's first pick becomes expert 0, its other picks none.
      for (let t = 0; t < N; t++) for (let j = 0; j < k; j++) ints[r * perRecord + 2 + t * k + j] = j === 0 ? 0 : -1;
    }
    const doctored = join(dir, 'doctored.bin');
    writeFileSync(doctored, Buffer.concat([bytes.subarray(0, start), Buffer.from(ints.buffer)]));
    const out = await run('replay', doctored);
    for (const m of readMetricsStrict(join(out, 'metrics.jsonl'))) {
      const layer0 = m.layers.find((l) => l.block === 0)!;
      expect(layer0.load[0]).toBe(N); // the last micro-batch's N tokens, all on expert 0
      expect(layer0.load.slice(1).every((c) => c === 0)).toBe(true);
      expect(m.layers.find((l) => l.block === 1)!.load[0]).toBeLessThan(N); // layer 1 replays what its router chose
    }
  }, 600_000);

  it('refuses bad uses with a message, before training', () => {
    const specPath = writeSpec(dir, 'top_p', TEXT);
    const cases: [string[], number, RegExp][] = [
      [['--replay-routing', join(dir, 'missing.bin')], 1, /--replay-routing: .*missing\.bin does not exist/],
      [['--record-routing', join(dir, 'a.bin'), '--replay-routing', file], 2, /cannot be used together/],
    ];
    const other = writeSpec(dir, 'switch', readFileSync(join(ROOT, 'specs/switch.moe'), 'utf8').replace(/^train \{.*\}$/m, 'train { batch 4 steps 2 }'));
    const ec = writeSpec(dir, 'ec', readFileSync(join(ROOT, 'specs/expert_choice.moe'), 'utf8').replace(/^train \{.*\}$/m, 'train { batch 4 steps 2 }'));
    for (const [args, status, message] of cases) {
      const r = moec(['train', specPath, '--out', tmp.make('moec-replay-bad-'), ...args]);
      expect(r.status, show(r)).toBe(status);
      expect(r.stderr).toMatch(message);
      expect(hasStackTrace(r.stderr), show(r)).toBe(false);
    }
    // A recording of another model: its tables do not match.
    const mismatch = moec(['train', other, '--out', tmp.make('moec-replay-bad-'), '--replay-routing', file]);
    expect(mismatch.status, show(mismatch)).toBe(1);
    expect(mismatch.stderr).toMatch(/holds selections of blocks\.0\.moe\.token_expert \[64, 4\].*but this model routes/);
    // Expert choice has no per-token selection to record.
    const choice = moec(['train', ec, '--out', tmp.make('moec-replay-bad-'), '--record-routing', join(dir, 'ec.bin')]);
    expect(choice.status, show(choice)).toBe(1);
    expect(choice.stderr).toMatch(/routing record covers token-choice routers; block 0 routes with expert_choice/);
  }, 600_000);
});
