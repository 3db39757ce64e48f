/**
 * Seed noise for `moec compare --seeds`: spreads, the paired t on per-seed
 * differences and Welch's t checked against values worked by hand, Student's
 * critical values, and the verdict at its edges.
 */
import { describe, expect, it } from 'vitest';
import { compareSeeds, describeDifference, formatSpread, spread, tCritical } from '../../report/seed_statistics.ts';

describe('seed statistics', () => {
  it('gives the mean, sample standard deviation and range', () => {
    const s = spread([1, 2, 3, 6]);
    expect(s.mean).toBe(3);
    // (4 + 1 + 0 + 9) / 3
    expect(s.sd).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect([s.min, s.max, s.n]).toEqual([1, 6, 4]);
    expect(spread([2.5]).sd).toBe(0);
  });

  it("has Student's two-sided 95% critical values", () => {
    expect(tCritical(1)).toBe(12.706);
    expect(tCritical(2)).toBe(4.303);
    expect(tCritical(4)).toBe(2.776);
    expect(tCritical(2.5)).toBeCloseTo((4.303 + 3.182) / 2, 12);
    expect(tCritical(1e9)).toBeCloseTo(1.96, 6);
  });

  it('pairs runs by seed: t on the per-seed differences, n − 1 df', () => {
    // differences 0.10, 0.12, 0.08: mean 0.1, sd 0.02, se 0.02/√3 = 0.011547, t = 8.660 > 4.303
    const d = compareSeeds(spread([2.1, 2.22, 2.18]), spread([2.0, 2.1, 2.1]));
    expect(d.paired).toBe(true);
    expect(d.delta).toBeCloseTo(0.1, 12);
    expect(d.se).toBeCloseTo(0.011547, 6);
    expect(d.t).toBeCloseTo(8.660254, 5);
    expect(d.df).toBe(2);
    expect(d.verdict).toBe('beyond noise');
    // The same means with the differences spread out: 0.3, -0.1, 0.1 → sd 0.2, t = 0.866: noise
    const noisy = compareSeeds(spread([2.3, 2.0, 2.2]), spread([2.0, 2.1, 2.1]));
    expect(noisy.t).toBeCloseTo(0.866025, 5);
    expect(noisy.verdict).toBe('within noise');
  });

  it("uses Welch's t with Welch–Satterthwaite df when the counts differ", () => {
    // a: [1,2,3] mean 2 var 1; b: [4,5,6,7] mean 5.5 var 5/3. se² = 1/3 + 5/12 = 0.75, t = -3.5/0.866 = -4.041
    const d = compareSeeds(spread([1, 2, 3]), spread([4, 5, 6, 7]));
    expect(d.paired).toBe(false);
    expect(d.t).toBeCloseTo(-4.041452, 5);
    // df = 0.75² / ((1/3)²/2 + (5/12)²/3) = 0.5625 / (0.055556 + 0.057870) = 4.959
    expect(d.df).toBeCloseTo(4.9592, 3);
    expect(d.verdict).toBe('beyond noise');
  });

  it('says the noise is unknown with one seed, and tells identical runs apart from real ones', () => {
    const one = compareSeeds(spread([1]), spread([2]));
    expect(one.verdict).toBe('noise unknown');
    expect(describeDifference('switch', 'dense', one)).toBe('switch vs dense: -1.0000; seed noise unknown with one seed (use --seeds 3 or more)');
    expect(compareSeeds(spread([1, 1, 1]), spread([1, 1, 1])).verdict).toBe('within noise');
    // the same shift on every seed: no spread in the differences at all
    expect(compareSeeds(spread([2, 3, 4]), spread([1, 2, 3])).verdict).toBe('beyond noise');
  });

  it('prints spreads and verdicts a reader can check', () => {
    expect(formatSpread(spread([2, 4]))).toBe('3.0000 ± 1.4142 (2 seeds)');
    expect(formatSpread(spread([2.5]))).toBe('2.5000 (1 seed)');
    expect(describeDifference('switch', 'dense', compareSeeds(spread([2.1, 2.22, 2.18]), spread([2.0, 2.1, 2.1])))).toBe('switch vs dense: +0.1000 ± 0.0115 (paired t 8.66, 2 df, 95% needs 4.30): beyond seed noise');
  });
});
