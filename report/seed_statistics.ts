/**
 * Seed noise for `moec compare --seeds N`: the mean and spread of a number
 * over a spec's seeds, and whether two specs differ by more than that noise.
 *
 * moec compare runs every spec with the same seeds, and a seed fixes the
 * data order and the validation batches, so run i of one spec and run i of
 * another saw the same text: the comparison is paired — a t statistic on the
 * per-seed differences with n − 1 degrees of freedom. Unpaired values (other
 * counts) get Welch's t with Welch–Satterthwaite degrees of freedom. A
 * difference counts as beyond seed noise when |t| reaches Student's
 * two-sided 95% critical value for those degrees of freedom (4.30 with 3
 * seeds, 2.78 with 5): a rule a reader can check by hand from the printed
 * numbers.
 */

export interface Spread {
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (0 with one seed). */
  readonly sd: number;
  readonly min: number;
  readonly max: number;
  /** The values, in seed order (pairs runs of different specs). */
  readonly values: readonly number[];
}

/** Mean, sample standard deviation and range of some values (at least one). */
export function spread(values: readonly number[]): Spread {
  if (!values.length) throw new Error('internal: spread of no values');
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, min: Math.min(...values), max: Math.max(...values), values: [...values] };
}

/** Student's t two-sided 95% critical values for 1..30 degrees of freedom. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** The two-sided 95% critical value of Student's t for `df` (≥ 1; fractional df interpolated; past 30, towards 1.96). */
export function tCritical(df: number): number {
  if (!(df >= 1)) return Number.NaN;
  if (df >= 30) return 1.96 + (T975[29]! - 1.96) * (30 / df);
  const lo = Math.floor(df);
  const frac = df - lo;
  return T975[lo - 1]! + frac * ((T975[lo] ?? T975[29]!) - T975[lo - 1]!);
}

export type Verdict = 'beyond noise' | 'within noise' | 'noise unknown';

export interface Difference {
  /** a − b of the means. */
  readonly delta: number;
  /** Standard error of that difference. */
  readonly se: number;
  /** The t statistic (NaN when the noise is unknown). */
  readonly t: number;
  readonly df: number;
  /** |t| needed for 95%. */
  readonly critical: number;
  /** Paired by seed (same number of runs), or Welch's. */
  readonly paired: boolean;
  readonly verdict: Verdict;
}

/** Whether `a` and `b` (a spec's values over its seeds, in seed order) differ beyond seed noise. */
export function compareSeeds(a: Spread, b: Spread): Difference {
  const delta = a.mean - b.mean;
  const paired = a.n === b.n;
  if (a.n < 2 || b.n < 2) return { delta, se: Number.NaN, t: Number.NaN, df: Number.NaN, critical: Number.NaN, paired, verdict: 'noise unknown' };
  let se: number;
  let df: number;
  if (paired) {
    const d = spread(a.values.map((v, i) => v - b.values[i]!));
    se = d.sd / Math.sqrt(d.n);
    df = d.n - 1;
  } else {
    const va = (a.sd * a.sd) / a.n;
    const vb = (b.sd * b.sd) / b.n;
    se = Math.sqrt(va + vb);
    df = se > 0 ? (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1)) : a.n + b.n - 2;
  }
  const t = se > 0 ? delta / se : delta === 0 ? 0 : Math.sign(delta) * Infinity;
  const critical = tCritical(df);
  return { delta, se, t, df, critical, paired, verdict: Math.abs(t) >= critical ? 'beyond noise' : 'within noise' };
}

/** "2.7712 ± 0.0123 (3 seeds)" */
export function formatSpread(s: Spread, digits = 4): string {
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)} (${s.n} seeds)` : `${s.mean.toFixed(digits)} (1 seed)`;
}

/** One line a reader can act on: "switch vs dense: +0.0410 ± 0.0100 (paired t 4.10, 2 df, 95% needs 4.30): within seed noise — …". */
export function describeDifference(a: string, b: string, d: Difference): string {
  const sign = d.delta >= 0 ? '+' : '';
  if (d.verdict === 'noise unknown') return `${a} vs ${b}: ${sign}${d.delta.toFixed(4)}; seed noise unknown with one seed (use --seeds 3 or more)`;
  const t = Number.isFinite(d.t) ? d.t.toFixed(2) : d.t > 0 ? '+inf' : '-inf';
  const df = Number.isInteger(d.df) ? String(d.df) : d.df.toFixed(1);
  const stat = `${d.paired ? 'paired' : 'Welch'} t ${t}, ${df} df, 95% needs ${d.critical.toFixed(2)}`;
  return `${a} vs ${b}: ${sign}${d.delta.toFixed(4)} ± ${d.se.toFixed(4)} (${stat}): ${d.verdict === 'beyond noise' ? 'beyond seed noise' : 'within seed noise — not a difference this run can show'}`;
}
