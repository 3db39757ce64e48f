/**
 * Training data:
 *   - the synthetic corpus is a pure function of (seed, split, index): the
 *     same batch twice, a different one for another index, split or seed;
 *     every batch holds all four sub-languages in equal shares, each
 *     sequence written only in its sub-language's alphabet;
 *   - targets are the tokens shifted by one (synthetic corpus and files;
 *     for files, tokens + last target are a contiguous run of the file, train
 *     batches from the first 90%, validation from the held-out rest);
 *   - `moec train --data FILE` trains on a UTF-8 file;
 *   - bad data files (empty, binary anywhere, invalid UTF-8, too short, a directory, a FIFO, a device, over 1 GiB,
 *     missing) are refused by `moec train` with a clear message, exit 1 and
 *     no stack trace, before any training.
 * The `--data` training run needs a WebGPU adapter (fails without one).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../runtime/checkpoint.ts';
import type { Batch } from '../../runtime/data/batch.ts';
import { SUB_LANGUAGES, SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { DataError, MAX_DATA_BYTES, TextFile } from '../../runtime/data/text_file.ts';
import { hasStackTrace, moec, readMetricsStrict, show, smallTrain, specText, TempDirs, writeSpec } from './helpers.ts';

const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

const B = 8;
const S = 32;

function same(a: Batch, b: Batch): boolean {
  return a.tokens.every((v, i) => v === b.tokens[i]) && a.targets.every((v, i) => v === b.targets[i]) && a.languages.every((v, i) => v === b.languages[i]);
}

/** Each sub-language's bytes (docs/MODEL.md). */
const ALPHABETS: Record<(typeof SUB_LANGUAGES)[number], RegExp> = {
  arithmetic: /^[0-9+=;]+$/,
  reversal: /^[a-z|.]+$/,
  repetition: /^[A-Z ]+$/,
  chatter: /^[!"#$%&'()*,\-/:<>?@[\]^_{}~\n]+$/,
};

const row = (a: Int32Array, b: number, n = S) => String.fromCharCode(...a.subarray(b * n, (b + 1) * n));

describe('the synthetic corpus', () => {
  const corpus = new SyntheticCorpus(1);

  it('is deterministic: the same seed, split and index give the same batch; others differ', () => {
    for (const index of [0, 1, 7, 1000]) {
      const a = corpus.batch('train', index, B, S);
      expect(same(a, corpus.batch('train', index, B, S))).toBe(true);
      expect(same(a, new SyntheticCorpus(1).batch('train', index, B, S))).toBe(true);
      expect(same(a, corpus.batch('train', index + 1, B, S))).toBe(false);
      expect(same(a, corpus.batch('validation', index, B, S))).toBe(false);
      expect(same(a, new SyntheticCorpus(2).batch('train', index, B, S))).toBe(false);
    }
  });

  it('holds all four sub-languages in every batch, each in its own alphabet', () => {
    expect([...corpus.languages]).toEqual(['arithmetic', 'reversal', 'repetition', 'chatter']);
    for (const split of ['train', 'validation'] as const) {
      for (let index = 0; index < 12; index++) {
        const b = corpus.batch(split, index, B, S);
        expect(b.tokens).toHaveLength(B * S);
        expect(b.targets).toHaveLength(B * S);
        expect(b.languages).toHaveLength(B);
        const counts = [0, 0, 0, 0];
        for (let s = 0; s < B; s++) {
          const lang = b.languages[s]!;
          counts[lang]! += 1;
          const text = row(b.tokens, s) + String.fromCharCode(b.targets[(s + 1) * S - 1]!);
          expect(text, `${split} batch ${index} sequence ${s} (${SUB_LANGUAGES[lang]})`).toMatch(ALPHABETS[SUB_LANGUAGES[lang]!]);
        }
        expect(counts, `${split} batch ${index}`).toEqual([B / 4, B / 4, B / 4, B / 4]);
      }
    }
  });

  it('gives targets that are the tokens shifted by one', () => {
    for (const index of [0, 3]) {
      const b = corpus.batch('train', index, B, S);
      for (let s = 0; s < B; s++) for (let i = 0; i + 1 < S; i++) expect(b.targets[s * S + i]).toBe(b.tokens[s * S + i + 1]);
      expect(b.tokens.every((t) => t >= 0 && t < 256)).toBe(true);
    }
  });
});

describe('a text file', () => {
  const dir = tmp.make('moec-data-');
  const text = Array.from({ length: 400 }, (_, i) => `line ${i}: naïve café ✓ — ${'abcdefghij'.slice(i % 7)}\n`).join('');
  const file = join(dir, 'text.txt');
  writeFileSync(file, text);
  const bytes = new Uint8Array(readFileSync(file));

  it('gives contiguous runs of the file, targets shifted by one, validation from the held-out tail', () => {
    const src = new TextFile(file, 0.1, S, 1);
    const cut = Math.floor(bytes.length * 0.9);
    const hay = Buffer.from(bytes);
    for (const split of ['train', 'validation'] as const) {
      const b = src.batch(split, 2, B, S);
      expect(same(b, src.batch(split, 2, B, S))).toBe(true);
      expect(same(b, src.batch(split, 3, B, S))).toBe(false);
      expect([...b.languages]).toEqual(new Array(B).fill(-1));
      for (let s = 0; s < B; s++) {
        const seq = Buffer.from([...b.tokens.subarray(s * S, (s + 1) * S), b.targets[(s + 1) * S - 1]!]);
        for (let i = 0; i + 1 < S; i++) expect(b.targets[s * S + i]).toBe(b.tokens[s * S + i + 1]);
        const part = split === 'train' ? hay.subarray(0, cut) : hay.subarray(cut);
        expect(part.indexOf(seq), `${split} sequence ${s} is not a run of its part of the file`).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('accepts a large file with two-byte characters across its first MiB (the whole file is decoded)', () => {
    // 'x' then two-byte 'é's: byte 2^20 falls in the middle of one.
    const big = join(dir, 'big.txt');
    writeFileSync(big, `x${'é'.repeat(600_000)}`);
    expect(readFileSync(big)[(1 << 20) - 1]).toBe(0xc3);
    expect(() => new TextFile(big, 0.1, S, 1)).not.toThrow();
  });

  it('trains with moec train --data FILE', () => {
    const spec = writeSpec(dir, 'switch', specText('switch.moe', smallTrain({ steps: 3 }), { context: S }));
    const out = join(dir, 'run');
    const r = moec(['train', spec, '--data', file, '--out', out]);
    expect(r.status, show(r)).toBe(0);
    expect(readMetricsStrict(join(out, 'metrics.jsonl')).map((m) => m.step)).toEqual([1, 2, 3]);
    const ck = loadCheckpoint(join(out, CHECKPOINT_FILE));
    expect(ck.meta.step).toBe(3);
    expect(ck.meta.data).toContain(file);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain(file);
  });
});

describe('bad data files', () => {
  const dir = tmp.make('moec-baddata-');
  const spec = writeSpec(dir, 'switch', specText('switch.moe', smallTrain({ steps: 3 }), { context: S }));
  const long = 'the quick brown fox jumps over the lazy dog\n'.repeat(40);
  const cases: { name: string; make: (p: string) => void; message: RegExp }[] = [
    { name: 'an empty file', make: (p) => writeFileSync(p, ''), message: /is empty/ },
    { name: 'a binary file (NUL bytes)', make: (p) => writeFileSync(p, Buffer.concat([Buffer.from(long), Buffer.from([0, 1, 2, 0, 255, 0])])), message: /looks binary \(a NUL byte at offset 1760\)/ },
    { name: 'binary content after the first MiB', make: (p) => writeFileSync(p, Buffer.concat([Buffer.from(long.repeat(700)), Buffer.from([0, 0, 0])])), message: /looks binary \(a NUL byte at offset 1232000\)/ },
    { name: 'a FIFO (it would block forever)', make: (p) => execFileSync('mkfifo', [p]), message: /is not a regular file \(a pipe, socket or device\)/ },
    { name: 'a device (/dev/zero, endless)', make: (p) => symlinkSync('/dev/zero', p), message: /is not a regular file \(a pipe, socket or device\)/ },
    {
      name: 'a file over 1 GiB (sparse, so the test writes nothing)',
      make: (p) => {
        writeFileSync(p, long);
        truncateSync(p, MAX_DATA_BYTES + 1);
      },
      message: /has 1073741825 bytes; moec reads at most 1073741824 \(1 GiB\)/,
    },
    { name: 'invalid UTF-8 in the middle', make: (p) => writeFileSync(p, Buffer.concat([Buffer.from(long), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(long)])), message: /is not valid UTF-8 text/ },
    { name: 'invalid UTF-8 at the very end', make: (p) => writeFileSync(p, Buffer.concat([Buffer.from(long), Buffer.from([0xff])])), message: /is not valid UTF-8 text/ },
    { name: 'a file too short for one batch', make: (p) => writeFileSync(p, 'far too short\n'), message: /too short for one sequence of 33 bytes/ },
    { name: 'a directory', make: (p) => mkdirSync(p), message: /is a directory/ },
    { name: 'a missing file', make: () => {}, message: /cannot read .*: no such file/ },
  ];

  for (const [i, c] of cases.entries()) {
    it(`refuses ${c.name}`, () => {
      const data = join(dir, `data-${i}`);
      c.make(data);
      // The library says why, as a DataError...
      expect(() => new TextFile(data, 0.1, S, 1)).toThrow(DataError);
      expect(() => new TextFile(data, 0.1, S, 1)).toThrow(c.message);
      // ...and the command prints it with a hint and exits 1.
      const out = join(dir, `out-${i}`);
      const r = moec(['train', spec, '--data', data, '--out', out]);
      expect(r.status, show(r)).toBe(1);
      expect(r.stderr, show(r)).toMatch(new RegExp(`^moec: .*${c.message.source}`, 'm'));
      expect(r.stderr).toContain(data);
      expect(r.stderr).toMatch(/^ {2}hint: \S/m);
      expect(hasStackTrace(r.stderr), show(r)).toBe(false);
      expect(r.stdout).not.toMatch(/step \d+\//);
    }, 120_000);
  }
});
