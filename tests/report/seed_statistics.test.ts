/**
 * Seed noise for `moec compare --seeds`: spreads and Welch's t checked
 * against values worked by hand, and the verdict rule (|t| ≥ 2 with at
 * least 3 seeds a side) at its edges.
 */
import { describe, expect, it } from 'vitest';
import { compareSpreads, describeDifference, formatSpread, spread } from '../../report/seed_statistics.ts';

describe('seed statistics', () => {
  it('gives the mean, sample standard deviation and range', () => {
    const s = spread([1, 2, 3, 6]);
    expect(s.mean).toBe(3);
    // (4 + 1 + 0 + 9) / 3
    expect(s.sd).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect([s.min, s.max, s.n]).toEqual([1, 6, 4]);
    expect(spread([2.5]).sd).toBe(0);
  });

  it("computes Welch's t by hand and calls |t| >= 2 with 3 seeds a side beyond noise", () => {
    // means 2 and 5, sd 1 each: se = sqrt(1/3 + 1/3) = 0.81650, t = -3 / 0.81650 = -3.6742
    const d = compareSpreads(spread([1, 2, 3]), spread([4, 5, 6]));
    expect(d.delta).toBe(-3);
    expect(d.se).toBeCloseTo(0.8164966, 6);
    expect(d.t).toBeCloseTo(-3.6742346, 6);
    expect(d.verdict).toBe('beyond noise');
    // a shift of half a standard deviation: t = -0.5 / 0.8165 = -0.61
    const near = compareSpreads(spread([1, 2, 3]), spread([1.5, 2.5, 3.5]));
    expect(near.t).toBeCloseTo(-0.6123724, 6);
    expect(near.verdict).toBe('within noise');
  });

  it('never calls a difference real with fewer than 3 seeds, and says the noise is unknown with 1', () => {
    expect(compareSpreads(spread([1, 1.01]), spread([5, 5.01])).verdict).toBe('within noise');
    const one = compareSpreads(spread([1]), spread([2]));
    expect(one.verdict).toBe('noise unknown');
    expect(describeDifference('switch', 'dense', one)).toBe('switch vs dense: -1.0000; seed noise unknown with one seed (use --seeds 3 or more)');
  });

  it('prints spreads and verdicts a reader can check', () => {
    expect(formatSpread(spread([2, 4]))).toBe('3.0000 ± 1.4142 (2 seeds)');
    expect(formatSpread(spread([2.5]))).toBe('2.5000 (1 seed)');
    const line = describeDifference('switch', 'dense', compareSpreads(spread([4, 5, 6]), spread([1, 2, 3])));
    expect(line).toBe('switch vs dense: +3.0000 ± 0.8165 (Welch t 3.7): beyond seed noise');
    // identical runs on both sides: no spread at all, no difference
    expect(compareSpreads(spread([1, 1, 1]), spread([1, 1, 1])).verdict).toBe('within noise');
  });
});
