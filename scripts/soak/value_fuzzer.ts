/**
 * A grammar-aware value fuzzer: shipped specs with 1–3 mutations that keep
 * the spec's shape — numbers set to 0, -1, huge or fractional values, a
 * `key value` pair moved into another block, a choice (preset, score,
 * activation, ...) swapped for another — so most mutants parse and many are
 * accepted. Every mutant goes through the checker in-process (it must
 * return well-formed diagnostics, never throw); a sample of accepted ones
 * goes through `moec test` as a user runs it (exit 0 or 1, no stack trace,
 * no internal error or WebGPU text).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryReport } from '../../codegen/device_fit.ts';
import { trainPlan } from '../../codegen/train_plan.ts';
import { DEFAULT_TARGET } from '../../codegen/wgsl/kernel.ts';
import { checkSpec } from '../../compiler/compile.ts';
import { CODES } from '../../compiler/diagnostics.ts';
import { ALL_CHOICES, ALL_KEYS } from '../../compiler/schema.ts';
import { Rng } from '../../runtime/rng.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const VALUES = ['0', '-1', '1', '2', '3', '0.5', '2.7', '1e-9', '4096', '65536', '1e12', '99999999999'];

/** Text split into pieces that join back to it: strings, comments, braces, words, whitespace. */
export function pieces(text: string): string[] {
  return text.match(/"[^"\n]*"|#[^\n]*|[{}]|[^\s{}"#]+|\s+/g) ?? [];
}

export const isNumber = (p: string): boolean => /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(p);
const KEYS = new Set(ALL_KEYS);
const CHOICES = new Set(ALL_CHOICES);

/** The indices of pieces that satisfy `test`. */
const where = (p: readonly string[], test: (s: string) => boolean) => p.flatMap((s, i) => (test(s) ? [i] : []));

const MUTATIONS: ((p: string[], rng: Rng) => boolean)[] = [
  // a number becomes 0, -1, huge or fractional
  (p, rng) => {
    const at = where(p, isNumber);
    if (!at.length) return false;
    p[at[rng.int(at.length)]!] = VALUES[rng.int(VALUES.length)]!;
    return true;
  },
  // a `key value` pair moves into another block
  (p, rng) => {
    const keys = where(p, (s) => KEYS.has(s)).filter((i) => p[i + 2] !== undefined && p[i + 2] !== '{');
    const opens = where(p, (s) => s === '{');
    if (!keys.length || !opens.length) return false;
    const k = keys[rng.int(keys.length)]!;
    const pair = p.splice(k, 3, ' ');
    const target = where(p, (s) => s === '{');
    p.splice(target[rng.int(target.length)]! + 1, 0, ' ', pair[0]!, ' ', pair[2]!, ' ');
    return true;
  },
  // a choice (preset, score, activation, norm, ...) is swapped for another
  (p, rng) => {
    const at = where(p, (s) => CHOICES.has(s));
    if (!at.length) return false;
    p[at[rng.int(at.length)]!] = ALL_CHOICES[rng.int(ALL_CHOICES.length)]!;
    return true;
  },
];

/** One mutant of `text`. */
export function mutate(text: string, rng: Rng): string {
  const p = pieces(text);
  const n = 1 + rng.int(3);
  for (let done = 0, tries = 0; done < n && tries < 20; tries++) if (MUTATIONS[rng.int(MUTATIONS.length)]!(p, rng)) done++;
  return p.join('');
}

export interface FuzzReport {
  readonly mutants: number;
  readonly accepted: number;
  readonly refusedBy: Readonly<Record<string, number>>;
  readonly tested: number;
  readonly testExits: Readonly<Record<string, number>>;
  readonly problems: readonly string[];
  readonly seconds: number;
}

/** Checks `count` mutants, then runs `moec test` on up to `tests` accepted ones small enough to test quickly (training memory under 64 MiB). */
export function valueFuzz(count: number, tests: number, seed: number): FuzzReport {
  const began = Date.now();
  const specs = readdirSync(join(ROOT, 'specs')).filter((f) => f.endsWith('.moe')).sort().map((f) => readFileSync(join(ROOT, 'specs', f), 'utf8'));
  const rng = new Rng(seed, 9);
  const problems: string[] = [];
  const refusedBy: Record<string, number> = {};
  const accepted: string[] = [];
  for (let i = 0; i < count; i++) {
    const text = mutate(specs[i % specs.length]!, rng);
    try {
      const r = checkSpec(text, 'mutant.moe');
      for (const d of r.diagnostics) {
        if (!(d.code in CODES) || !d.message || d.span.start < 0 || d.span.end > text.length || d.span.start > d.span.end) problems.push(`mutant ${i}: malformed diagnostic ${JSON.stringify(d)}`);
      }
      const first = r.diagnostics.find((d) => d.severity === 'error');
      if (r.spec) accepted.push(text);
      else if (first) refusedBy[first.code] = (refusedBy[first.code] ?? 0) + 1;
      else problems.push(`mutant ${i}: no spec and no error`);
    } catch (e) {
      problems.push(`mutant ${i}: the checker threw ${(e as Error).stack}\n${text}`);
    }
  }
  const small = [...new Set(accepted)].filter((text) => {
    const { spec } = checkSpec(text, 'mutant.moe');
    const plan = trainPlan(spec!, DEFAULT_TARGET);
    return memoryReport(plan.graph, plan.buffers).total < 64 * 2 ** 20;
  });
  const dir = mkdtempSync(join(tmpdir(), 'moec-fuzz-'));
  const testExits: Record<string, number> = {};
  let tested = 0;
  try {
    for (const text of small.slice(0, tests)) {
      const path = join(dir, `mutant${tested}.moe`);
      writeFileSync(path, text);
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'moec.js'), 'test', path], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
      tested++;
      const exit = r.signal ? `signal ${r.signal}` : String(r.status);
      testExits[exit] = (testExits[exit] ?? 0) + 1;
      const text2 = `${r.stdout}\n${r.stderr}`;
      if (!(r.status === 0 || r.status === 1) || /internal error|bug in moec|GPUValidationError|\n\s+at .+:\d+:\d+/.test(text2)) problems.push(`moec test on mutant${tested - 1} exited ${exit}:\n${r.stderr.slice(0, 2000)}\n${text}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { mutants: count, accepted: accepted.length, refusedBy, tested, testExits, problems, seconds: (Date.now() - began) / 1000 };
}
