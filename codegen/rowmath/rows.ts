/**
 * Row programs: the few reductions over one row that both backends need
 * (log-sum-exp with its sentinel, softmax, the softmax backward's dot
 * product), written once as data over the expression form and rendered to
 * WGSL loops and to a JavaScript function over Float64Arrays.
 *
 * A program reads rows named in `rows` (element s of row `z` is the
 * variable `z` in its expressions), runs its reductions in order (each a
 * loop over the row: `acc = max(acc, term)` or `acc += term`), and ends in a
 * scalar `result` and/or a per-element `map`. The max-reduction starts at a
 * finite sentinel (−3.4e38, about f32's lowest) in both backends, so an
 * all −∞ row gives log-sum-exp −∞ in both.
 */
import { add, div, mul, num, prim, sub, toJs, toWgsl, x, type Expr } from './expr.ts';

export interface RowReduction {
  readonly name: string;
  readonly op: 'max' | 'add';
  readonly init: Expr;
  /** Per element; may read the rows and earlier reductions. */
  readonly term: Expr;
}

export interface RowProgram {
  readonly name: string;
  readonly doc: string;
  /** Names of the rows read, element-wise, in expressions. */
  readonly rows: readonly string[];
  readonly reductions: readonly RowReduction[];
  /** A scalar of the row (may read the reductions). */
  readonly result?: Expr;
  /** A value per element (may read the rows and the reductions). */
  readonly map?: Expr;
}

const z = x('z');
const zmax: RowReduction = { name: 'zmax', op: 'max', init: num(-3.4e38), term: z };
const expSum: RowReduction = { name: 'sum', op: 'add', init: num(0), term: prim('exp', sub(z, x('zmax'))) };

/** log Σ_s exp(z_s), shifted by the row's maximum. */
export const LOG_SUM_EXP: RowProgram = { name: 'lse', doc: 'log Σ exp(z), max-shifted', rows: ['z'], reductions: [zmax, expSum], result: add(x('zmax'), prim('log', x('sum'))) };

/** softmax(z)_s = exp(z_s − max) / Σ exp(z − max). */
export const SOFTMAX: RowProgram = { name: 'softmax', doc: 'softmax(z), max-shifted', rows: ['z'], reductions: [zmax, expSum], map: div(prim('exp', sub(z, x('zmax'))), x('sum')) };

/** The softmax backward from p = softmax(z) and dp: dz_s = p_s (dp_s − Σ p·dp). */
export const SOFTMAX_BACKWARD: RowProgram = {
  name: 'softmax_backward',
  doc: 'dz = p ⊙ (dp − Σ p·dp)',
  rows: ['p', 'dp'],
  reductions: [{ name: 'dotp', op: 'add', init: num(0), term: mul(x('p'), x('dp')) }],
  map: mul(x('p'), sub(x('dp'), x('dotp'))),
};

/** How a WGSL rendering reads a row: element `s` of row `name` as WGSL text. */
export type RowAccess = (row: string, s: string) => string;

/**
 * WGSL statements of a program's reductions over `n` elements (declaring one
 * `var` per reduction), with rows read through `at` and the loop over
 * `index` (`s` unless the kernel uses that name already).
 */
export function wgslReductions(p: RowProgram, n: number, at: RowAccess, indent = '', index = 's'): string[] {
  const rows = Object.fromEntries(p.rows.map((r) => [r, at(r, index)]));
  return p.reductions.flatMap((r) => {
    const term = toWgsl(r.term, rows);
    const step = r.op === 'max' ? `${r.name} = max(${r.name}, ${term});` : `${r.name} += ${term};`;
    return [`${indent}var ${r.name} = ${toWgsl(r.init)};`, `${indent}for (var ${index} = 0u; ${index} < ${n}u; ${index}++) { ${step} }`];
  });
}

/** A program's per-element value for element `s` as WGSL (after its reductions). */
export function wgslMap(p: RowProgram, s: string, at: RowAccess): string {
  if (!p.map) throw new Error(`internal: row program ${p.name} has no per-element value`);
  return toWgsl(p.map, Object.fromEntries(p.rows.map((r) => [r, at(r, s)])));
}

/** A program's scalar result as WGSL (after its reductions). */
export function wgslResult(p: RowProgram): string {
  if (!p.result) throw new Error(`internal: row program ${p.name} has no scalar result`);
  return toWgsl(p.result);
}

/** The JavaScript body of a program over rows of one length, ending in `tail` (which may read `n` and the reductions). */
function jsBody(p: RowProgram, tail: string): string {
  const el = (e: Expr) => toJs(e, 'f32', Object.fromEntries(p.rows.map((r) => [r, `${r}[s]`])));
  return [
    `const n = ${p.rows[0]}.length;`,
    ...p.reductions.map((r) => `let ${r.name} = ${toJs(r.init, 'f32')};\nfor (let s = 0; s < n; s++) ${r.op === 'max' ? `${r.name} = Math.max(${r.name}, ${el(r.term)})` : `${r.name} += ${el(r.term)}`};`),
    tail.replace('MAP', p.map ? el(p.map) : ''),
  ].join('\n');
}

/** A program's scalar result as a JavaScript function of its rows. */
export function compileRowResult(p: RowProgram): (...rows: ArrayLike<number>[]) => number {
  if (!p.result) throw new Error(`internal: row program ${p.name} has no scalar result`);
  return new Function(...p.rows, jsBody(p, `return ${toJs(p.result, 'f32')};`)) as (...rows: ArrayLike<number>[]) => number;
}

/** A program's per-element values as a JavaScript function of its rows, returning a fresh Float64Array. */
export function compileRowMap(p: RowProgram): (...rows: ArrayLike<number>[]) => Float64Array {
  if (!p.map) throw new Error(`internal: row program ${p.name} has no per-element value`);
  return new Function(...p.rows, jsBody(p, 'const out = new Float64Array(n);\nfor (let s = 0; s < n; s++) out[s] = MAP;\nreturn out;')) as (...rows: ArrayLike<number>[]) => Float64Array;
}

/**
 * Softmax-weighted sums in one pass over streamed scores (attention): a
 * running maximum `m` (from the same sentinel as LOG_SUM_EXP), a running
 * normaliser `l`, and per output column an accumulator rescaled whenever the
 * maximum grows. After the pass, out = acc / l is Σ softmax(s)·v and
 * m + log l is the log-sum-exp of the scores. The reference computes the
 * same values with SOFTMAX over the whole row instead (an independent
 * algorithm, on purpose).
 */
export const ONLINE_SOFTMAX = {
  doc: 'streaming softmax(s)·v with running max and normaliser',
  init: [['m', num(-3.4e38)], ['l', num(0)]] as const,
  /** Per score `s`, in order. */
  step: [
    ['m_new', prim('max', x('m'), x('s'))],
    ['correction', prim('exp', sub(x('m'), x('m_new')))],
    ['w', prim('exp', sub(x('s'), x('m_new')))],
  ] as const,
  l: add(mul(x('l'), x('correction')), x('w')),
  /** Per column: the accumulator `acc` and the value `v` of the score's row. */
  acc: add(mul(x('acc'), x('correction')), mul(x('w'), x('v'))),
  out: div(x('acc'), x('l')),
  lse: add(x('m'), prim('log', x('l'))),
};

/**
 * WGSL of ONLINE_SOFTMAX: declarations, then `for (header) { score lines
 * (which set a `var s`); update }`, accumulating `columns` values read by
 * `value(c)` into `var acc: array<f32, columns>`. Read the results with
 * wgslOnlineOut and wgslOnlineLse.
 */
export function wgslOnlineSoftmax(header: string, scoreLines: readonly string[], value: (c: string) => string, columns: number): string[] {
  const o = ONLINE_SOFTMAX;
  return [
    `var acc: array<f32, ${columns}>;`,
    ...o.init.map(([name, e]) => `var ${name} = ${toWgsl(e)};`),
    `for (${header}) {`,
    ...scoreLines.map((l) => `  ${l}`),
    ...o.step.map(([name, e]) => `  let ${name} = ${toWgsl(e)};`),
    `  l = ${toWgsl(o.l)};`,
    `  for (var c = 0u; c < ${columns}u; c++) { acc[c] = ${toWgsl(o.acc, { acc: 'acc[c]', v: value('c') })}; }`,
    '  m = m_new;',
    '}',
  ];
}

/** Column `c` of the softmax-weighted sum, after wgslOnlineSoftmax. */
export function wgslOnlineOut(c: string): string {
  return toWgsl(ONLINE_SOFTMAX.out, { acc: `acc[${c}]` });
}

/** The log-sum-exp of the scores, after wgslOnlineSoftmax. */
export function wgslOnlineLse(): string {
  return toWgsl(ONLINE_SOFTMAX.lse);
}
