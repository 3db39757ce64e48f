/**
 * Seed noise for `moec compare --seeds N`: the mean and spread of a number
 * over a spec's seeds, and whether two specs differ by more than that noise.
 * The test is Welch's t on the seed means (unequal spreads allowed): a
 * difference counts as real when |t| ≥ 2 with at least 3 seeds a side —
 * about a 5% false-alarm rate for normal noise, and a deliberately simple
 * rule a reader can check by hand from the printed numbers.
 */

export interface Spread {
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (0 with one seed). */
  readonly sd: number;
  readonly min: number;
  readonly max: number;
}

/** Mean, sample standard deviation and range of some values (at least one). */
export function spread(values: readonly number[]): Spread {
  if (!values.length) throw new Error('internal: spread of no values');
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, min: Math.min(...values), max: Math.max(...values) };
}

export type Verdict = 'beyond noise' | 'within noise' | 'noise unknown';

export interface Difference {
  /** a − b of the means. */
  readonly delta: number;
  /** Standard error of that difference. */
  readonly se: number;
  /** Welch's t (NaN when the noise is unknown). */
  readonly t: number;
  readonly verdict: Verdict;
}

/** Whether `a` and `b` (a spec's values over its seeds) differ beyond seed noise. */
export function compareSpreads(a: Spread, b: Spread): Difference {
  const delta = a.mean - b.mean;
  if (a.n < 2 || b.n < 2) return { delta, se: Number.NaN, t: Number.NaN, verdict: 'noise unknown' };
  const se = Math.sqrt((a.sd * a.sd) / a.n + (b.sd * b.sd) / b.n);
  const t = se > 0 ? delta / se : delta === 0 ? 0 : Math.sign(delta) * Infinity;
  const enough = a.n >= 3 && b.n >= 3;
  return { delta, se, t, verdict: enough && Math.abs(t) >= 2 ? 'beyond noise' : 'within noise' };
}

/** "2.7712 ± 0.0123 (3 seeds)" */
export function formatSpread(s: Spread, digits = 4): string {
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)} (${s.n} seeds)` : `${s.mean.toFixed(digits)} (1 seed)`;
}

/** One line a reader can act on: "switch vs dense: +0.0410 (Welch t 1.4): within seed noise". */
export function describeDifference(a: string, b: string, d: Difference): string {
  const sign = d.delta >= 0 ? '+' : '';
  if (d.verdict === 'noise unknown') return `${a} vs ${b}: ${sign}${d.delta.toFixed(4)}; seed noise unknown with one seed (use --seeds 3 or more)`;
  const t = Number.isFinite(d.t) ? d.t.toFixed(1) : d.t > 0 ? '+inf' : '-inf';
  return `${a} vs ${b}: ${sign}${d.delta.toFixed(4)} ± ${d.se.toFixed(4)} (Welch t ${t}): ${d.verdict === 'beyond noise' ? 'beyond seed noise' : 'within seed noise — not a difference this run can show'}`;
}
