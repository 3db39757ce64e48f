/**
 * Timing for benchmarks: warm-up runs are discarded, every run waits for
 * the GPU queue to finish, and results report the median with min–max.
 */
import { performance } from 'node:perf_hooks';

export interface Timing {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

/** Times `fn` (which must wait for the GPU itself) `runs` times after `warmup` discarded runs. */
export async function time(fn: () => Promise<void>, runs = 5, warmup = 2): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push(await timeOnce(fn));
  return timing(ms);
}

/** Milliseconds one call of `fn` takes. */
export async function timeOnce(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Median and range of measured milliseconds. */
export function timing(ms: readonly number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)!, runs: s.length };
}

export function fmtMs(t: Timing): string {
  return `${t.median.toFixed(1)} (${t.min.toFixed(0)}–${t.max.toFixed(0)})`;
}
