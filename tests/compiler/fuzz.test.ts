/**
 * Seeded fuzzing of the front end: every shipped spec, mutated many ways
 * (tokens deleted, duplicated and swapped, random bytes inserted, numbers
 * made huge or negative), plus pathological files. Whatever the input,
 * `checkSpec` must return, quickly, with well-formed diagnostics; the CLI
 * must exit 0 or 1 without a stack trace. The PRNG is seeded, so a failure
 * reproduces exactly.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { CODES } from '../../compiler/diagnostics.ts';
import { ALL_CHOICES, ALL_KEYS } from '../../compiler/schema.ts';
import { isNumber, pieces } from '../../scripts/soak/value_fuzzer.ts';

/** Mutated variants per shipped spec (13 specs: over 2,000 in all). */
const MUTANTS_PER_SPEC = 160;
/** Hang guard only: a small spec checks in about a millisecond. */
const MAX_CASE_MS = 5_000;
/** The 1 MB files parse ~300k tokens; slow shared CI cores need the headroom. */
const MAX_LARGE_CASE_MS = 20_000;
const MB = 1 << 20;

const specNames = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();
const specs = specNames.map((name) => ({ name, text: readFileSync(join('specs', name), 'utf8') }));

/** mulberry32: a tiny, well-mixed 32-bit PRNG; the same seed gives the same cases. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const intBelow = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[intBelow(rng, items.length)]!;

const isToken = (p: string): boolean => !/^\s/.test(p);

const HUGE_NUMBERS = ['1e308', '1e400', '-1e400', '99999999999999999999', '-1', '-0', '0', '1e-400', '-99999999999999999999', '4294967297', '0.0000001', '2147483648', '1.5', '-2.5e3'];
/** Bytes a file should not contain: NUL, controls, DEL, C1, lone surrogates, BOM, replacement char, emoji, quotes and braces. */
const NASTY = ['\u0000', '\u0001', '\u0007', '\b', '\u001b', '\u007f', '\u0080', '\u009f', '\u00ff', '\ud800', '\udfff', '\ufeff', '\ufffd', '\u2028', '😀', '"', '\\', '{', '}', '#', '\r', '\t', '\n', '-', '.', 'e'];

/** One random mutation; each keeps the rest of the text as it was. */
const MUTATIONS: ((p: string[], rng: Rng) => void)[] = [
  // delete a token
  (p, rng) => {
    const i = randomToken(p, rng);
    if (i >= 0) p.splice(i, 1);
  },
  // duplicate a token
  (p, rng) => {
    const i = randomToken(p, rng);
    if (i >= 0) p.splice(i, 0, p[i]!, ' ');
  },
  // swap two tokens
  (p, rng) => {
    const i = randomToken(p, rng);
    const j = randomToken(p, rng);
    if (i >= 0 && j >= 0) [p[i], p[j]] = [p[j]!, p[i]!];
  },
  // insert random bytes
  (p, rng) => {
    const junk = Array.from({ length: 1 + intBelow(rng, 4) }, () => (rng() < 0.5 ? pick(rng, NASTY) : String.fromCharCode(intBelow(rng, 0x10000)))).join('');
    p.splice(intBelow(rng, p.length + 1), 0, junk);
  },
  // a number made huge, tiny or negative
  (p, rng) => {
    const numbers = p.flatMap((x, i) => (isNumber(x) ? [i] : []));
    if (numbers.length) p[pick(rng, numbers)] = pick(rng, HUGE_NUMBERS);
  },
  // a word replaced by some key or choice of the language
  (p, rng) => {
    const i = randomToken(p, rng);
    if (i >= 0) p[i] = pick(rng, rng() < 0.5 ? ALL_KEYS : ALL_CHOICES);
  },
  // a brace added
  (p, rng) => {
    p.splice(intBelow(rng, p.length + 1), 0, rng() < 0.5 ? ' { ' : ' } ');
  },
  // the file cut short
  (p, rng) => {
    p.length = intBelow(rng, p.length + 1);
  },
];

function randomToken(p: readonly string[], rng: Rng): number {
  const tokens = p.flatMap((x, i) => (isToken(x) ? [i] : []));
  return tokens.length ? pick(rng, tokens) : -1;
}

/** A spec with 1 to 4 random mutations. */
function mutate(text: string, rng: Rng): string {
  const p = pieces(text);
  const n = 1 + intBelow(rng, 4);
  for (let k = 0; k < n; k++) pick(rng, MUTATIONS)(p, rng);
  return p.join('');
}

/** Checks `text`: everything wrong with the result as readable strings (empty: all good), and whether a spec came out. */
function checkOne(text: string, maxMs: number): { problems: string[]; accepted: boolean } {
  const t0 = performance.now();
  let result: ReturnType<typeof checkSpec>;
  try {
    result = checkSpec(text, 'fuzz.moe');
  } catch (e) {
    return { problems: [`threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`], accepted: false };
  }
  const ms = performance.now() - t0;
  const out: string[] = [];
  if (ms > maxMs) out.push(`took ${ms.toFixed(0)} ms`);
  for (const d of result.diagnostics) {
    const { line, column } = result.file.position(d.span.start);
    const where = `${d.code} at ${line}:${column}`;
    if (!(d.code in CODES)) out.push(`unknown code ${d.code}`);
    if (!(line >= 1 && column >= 1)) out.push(`${where}: bad position`);
    if (!(d.span.start >= 0 && d.span.start <= d.span.end && d.span.end <= text.length)) out.push(`${where}: span ${d.span.start}..${d.span.end} outside the file (${text.length})`);
    if (!d.message.trim()) out.push(`${where}: empty message`);
    if (`${d.message}\n${d.hint ?? ''}`.includes('    at ')) out.push(`${where}: stack trace in message`);
    if (d.severity !== 'error' && d.severity !== 'warning') out.push(`${where}: severity ${String(d.severity)}`);
  }
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  if (!result.spec && errors === 0) out.push('no spec and no error');
  if (result.spec && errors > 0) out.push('a spec despite errors');
  return { problems: out, accepted: !!result.spec };
}

/** The problems of `checkOne`, labelled with the start of the input so a failure is easy to reproduce. */
function labelled(label: string, text: string, problems: readonly string[]): string[] {
  return problems.map((p) => `${label}: ${p}\n--- input (${text.length} chars) ---\n${JSON.stringify(text.slice(0, 400))}`);
}

describe('fuzz: mutated shipped specs', () => {
  it('finds the shipped specs', () => {
    expect(specs.length).toBeGreaterThanOrEqual(13);
    expect(specs.length * MUTANTS_PER_SPEC).toBeGreaterThanOrEqual(2000);
  });

  specs.forEach(({ name, text }, s) => {
    it(`${name}: ${MUTANTS_PER_SPEC} mutants check cleanly`, () => {
      const rng = mulberry32(0x5eed + s);
      const problems: string[] = [];
      let rejected = 0;
      for (let k = 0; k < MUTANTS_PER_SPEC; k++) {
        const mutant = mutate(text, rng);
        const checked = checkOne(mutant, MAX_CASE_MS);
        problems.push(...labelled(`${name} mutant ${k}`, mutant, checked.problems));
        if (!checked.accepted) rejected++;
      }
      expect(problems).toEqual([]);
      // The mutations must actually break things, or this test tests nothing.
      expect(rejected).toBeGreaterThan(MUTANTS_PER_SPEC / 4);
    });
  });
});

describe('fuzz: pathological files', () => {
  const valid = specs.find((s) => s.name === 'switch.moe')!.text;
  const rng = mulberry32(42);
  const garbageLine = Array.from({ length: MB }, () => String.fromCharCode(1 + intBelow(rng, 0x2ff))).join('').replace(/[\n\r\u2028\u2029]/g, ' ');

  const cases: [string, string, number?][] = [
    ['an empty file', ''],
    ['only comments', '# a comment\n# another one\n   # indented\n'],
    ['only whitespace', ' \t\r\n\n   \n'],
    ['10,000-deep `{`', '{'.repeat(10_000)],
    ['10,000-deep `{` after a key', `model x ${'{ '.repeat(10_000)}`],
    ['10,000-deep nesting, closed', `${'{'.repeat(10_000)}${'}'.repeat(10_000)}`],
    ['10,000 stray `}`', '}'.repeat(10_000)],
    ['16-deep nesting (the limit)', `${'a { '.repeat(16)}${'} '.repeat(16)}`],
    ['17-deep nesting (over the limit)', `${'a { '.repeat(17)}${'} '.repeat(17)}`],
    ['a valid spec followed by 1 MB of repeated lines', valid + 'train { seed 1 }\n'.repeat(MB / 17), MAX_LARGE_CASE_MS],
    ['a 1 MB one-line garbage file', garbageLine, MAX_LARGE_CASE_MS],
    ['a 1 MB one-line word', 'x'.repeat(MB), MAX_LARGE_CASE_MS],
    ['a 1 MB number', '9'.repeat(MB), MAX_LARGE_CASE_MS],
    ['a 1 MB unterminated string', `model x { ffn dense { } }\ntrain { data "${'a'.repeat(MB)}`, MAX_LARGE_CASE_MS],
    ['1 MB of NUL', '\u0000'.repeat(MB), MAX_LARGE_CASE_MS],
    ['a file over the size limit', '#'.repeat(5 * MB), MAX_LARGE_CASE_MS],
    ['a byte-order mark before a valid spec', `\ufeff${valid}`],
    ['CRLF line ends', valid.replace(/\n/g, '\r\n')],
    ['old Mac CR line ends', valid.replace(/\n/g, '\r')],
    ['a NUL in the middle of a key', valid.replace('capacity_factor', 'capacity\u0000factor')],
    ['lone surrogates', valid.replace('switch', '\ud800switch\udfff')],
    ['a string with escapes and a trailing backslash', valid.replace('data synthetic', 'data "a\\"b\\\\c\\')],
    ['numbers without digits around the dot', valid.replace('1.25', '.').replace('0.01', '1.')],
    ['every number 1e400', valid.replace(/\b\d+(\.\d+)?(e-?\d+)?\b/g, '1e400')],
    ['every number negative', valid.replace(/\b(\d+(\.\d+)?(e-?\d+)?)\b/g, '-$1')],
    ['every number 99999999999999999999', valid.replace(/\b\d+(\.\d+)?(e-?\d+)?\b/g, '99999999999999999999')],
    ['all keys, no values', ALL_KEYS.join('\n')],
    ['all keys in one block', `model x { ${ALL_KEYS.join(' 1 ')} 1 }`],
    ['a huge model', valid.replace('width 64', 'width 16384').replace('context 64', 'context 8192').replace('batch 16', 'batch 4096')],
  ];

  it.each(cases)('%s', (label, text, maxMs) => {
    expect(labelled(label, text, checkOne(text, maxMs ?? MAX_CASE_MS).problems)).toEqual([]);
  });

  it('reports an empty file, a comments-only file and deep nesting as errors, not crashes', () => {
    expect(checkSpec('', 'e.moe').diagnostics.map((d) => d.code)).toEqual(['E111']);
    expect(checkSpec('# nothing\n', 'c.moe').diagnostics.map((d) => d.code)).toEqual(['E111']);
    expect(checkSpec('{'.repeat(10_000), 'n.moe').diagnostics.map((d) => d.code)).toEqual(['E003']);
    expect(checkSpec('#'.repeat(5 * MB), 'big.moe').diagnostics.map((d) => d.code)).toEqual(['E004']);
  });

  it.each([
    ['repeated top-level lines', valid + 'train { seed 1 }\n'.repeat(5000)],
    ['repeated lines in a block', valid.replace('depth 2', `depth 2\n${'  heads 4\n'.repeat(5000)}`)],
    ['stray numbers', '1 '.repeat(5000)],
    ['stray closing braces', '}'.repeat(5000)],
  ])('stops reporting after a bounded number of problems: %s', (_, text) => {
    const { diagnostics } = checkSpec(text, 'flood.moe');
    expect(diagnostics.length).toBeLessThan(300);
    expect(diagnostics.filter((d) => d.code === 'E013')).toHaveLength(1);
  });
});

describe('fuzz: the CLI on mutated files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moec-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A handful only: each run starts node and the TypeScript loader (about a second).
  const rng = mulberry32(7);
  const files = specs.filter((_, i) => i % 5 === 0).map((spec, i) => {
    const path = join(dir, `mutant_${i}.moe`);
    const text = Buffer.from(mutate(spec.text, rng), 'utf8');
    // One file gets bytes that are not UTF-8 at all (a stray 0xff, a cut-off sequence).
    writeFileSync(path, i === 1 ? Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), text, Buffer.from([0xe2, 0x82])]) : text);
    return [spec.name, path] as const;
  });

  it.each(files)('moec check on a mutant of %s exits 0 or 1 without a stack trace', (_, path) => {
    const run = spawnSync(process.execPath, ['bin/moec.js', 'check', path], { encoding: 'utf8', timeout: 60_000 });
    expect(run.error).toBeUndefined();
    expect([0, 1]).toContain(run.status);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).not.toContain('internal error');
  });

  it('moec check --json prints parseable diagnostics for all of them at once', () => {
    const paths = files.map(([, path]) => path);
    const run = spawnSync(process.execPath, ['bin/moec.js', 'check', '--json', ...paths], { encoding: 'utf8', timeout: 60_000 });
    expect([0, 1]).toContain(run.status);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    // One pretty-printed JSON object per file, back to back.
    const objects = run.stdout.split(/\n(?=\{)/).map((s) => JSON.parse(s) as { file: string; diagnostics: { line: number; column: number }[] });
    expect(objects.map((o) => o.file)).toEqual(paths);
    for (const o of objects) for (const d of o.diagnostics) expect(d.line >= 1 && d.column >= 1).toBe(true);
  });
});
