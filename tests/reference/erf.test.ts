/**
 * The reference's erf / erfc against mpmath at 50 digits, within the accuracy
 * documented in codegen/reference/erf.ts: erf to 5.6e-16 absolute and erfc to
 * 4e-15 relative, including far tails; and the exact GELU built on them.
 */
import { describe, expect, it } from 'vitest';
import { gelu, geluDerivative } from '../../codegen/reference/activations.ts';
import { erf, erfc } from '../../codegen/reference/erf.ts';

/**
 * [x, erf(x), erfc(x)], from python3:
 *   import mpmath; mpmath.mp.dps = 50
 *   for x in xs: print([x, float(mpmath.erf(x)), float(mpmath.erfc(x))])
 * (1.8873… and −1.0462… are where the measured errors peaked.)
 */
const TABLE: readonly (readonly [number, number, number])[] = [
  [0, 0.0, 1.0],
  [1e-300, 1.1283791670955126e-300, 1.0],
  [1e-8, 1.1283791670955126e-8, 0.9999999887162083],
  [0.1, 0.1124629160182849, 0.887537083981715],
  [0.25, 0.27632639016823696, 0.7236736098317631],
  [0.5, 0.5204998778130465, 0.4795001221869535],
  [0.75, 0.7111556336535151, 0.28884436634648486],
  [0.9, 0.7969082124228322, 0.20309178757716786],
  [0.999, 0.8422852702064969, 0.15771472979350307],
  [1, 0.8427007929497149, 0.15729920705028513],
  [1.001, 0.8431154854780762, 0.15688451452192373],
  [1.25, 0.9229001282564583, 0.07709987174354177],
  [1.5, 0.9661051464753108, 0.033894853524689274],
  [1.8873225800320146, 0.9923940031724306, 0.007605996827569382],
  [2, 0.9953222650189527, 0.004677734981047266],
  [2.5, 0.999593047982555, 0.0004069520174449589],
  [3, 0.9999779095030014, 2.209049699858544e-5],
  [3.5, 0.9999992569016276, 7.430983723414128e-7],
  [4, 0.9999999845827421, 1.541725790028002e-8],
  [5, 0.9999999999984626, 1.537459794428035e-12],
  [6, 1.0, 2.1519736712498913e-17],
  [8, 1.0, 1.1224297172982926e-29],
  [10, 1.0, 2.088487583762545e-45],
  [15, 1.0, 7.212994172451207e-100],
  [26, 1.0, 5.663192408856143e-296],
  [-0.3, -0.3286267594591274, 1.3286267594591274],
  [-1, -0.8427007929497149, 1.8427007929497148],
  [-1.04620369976832, -0.8610080799677055, 1.8610080799677056],
  [-2.2, -0.9981371537020182, 1.998137153702018],
  [-4.5, -0.9999999998033839, 1.999999999803384],
  [-7, -1.0, 2.0],
];

describe('erf', () => {
  it('matches mpmath: erf to 5.6e-16 absolute, erfc to 4e-15 relative', () => {
    for (const [x, e, c] of TABLE) {
      expect(Math.abs(erf(x) - e), `erf(${x})`).toBeLessThanOrEqual(5.6e-16);
      expect(Math.abs(erfc(x) - c) / c, `erfc(${x})`).toBeLessThanOrEqual(4e-15);
    }
  });

  it('is odd, saturates, and passes NaN through', () => {
    for (const x of [0.3, 0.99, 1, 2.7, 9]) expect(erf(-x)).toBe(-erf(x));
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erfc(40)).toBe(0);
    expect(Number.isNaN(erf(NaN))).toBe(true);
  });

  it('gives the exact GELU and its derivative', () => {
    // python3: from mpmath import mp, mpf, erf, exp, sqrt, pi; mp.dps = 50
    //   gelu(x) = x/2·(1 + erf(x/√2));  gelu'(x) = (1 + erf(x/√2))/2 + x·exp(−x²/2)/√(2π)
    expect(Math.abs(gelu(1) - 0.8413447460685429)).toBeLessThanOrEqual(2e-16);
    // The GELU shares the kernels' form x/2·(1 + erf(x/√2)) (one definition, codegen/rowmath): 1 + erf cancels for x < 0, so relative precision there is ~1e-14.
    expect(Math.abs(gelu(-3) - -0.0040496940948902835) / 0.0040496940948902835).toBeLessThanOrEqual(1e-14);
    expect(Math.abs(geluDerivative(1) - 1.0833154705876864)).toBeLessThanOrEqual(4e-16);
    expect(Math.abs(geluDerivative(-3) - -0.011945647204183927)).toBeLessThanOrEqual(4e-16);
  });
});
