/**
 * The expression form of the shared scalar math (codegen/rowmath): rendering
 * keeps the written association (so f32 kernels evaluate in the written
 * order), u32 functions wrap like WGSL's u32, and a kernel gets the helper
 * functions it uses and what they call, nothing else.
 */
import { describe, expect, it } from 'vitest';
import { add, mul, num, sub, toJs, toWgsl, x } from '../../codegen/rowmath/expr.ts';
import { compileScalarFn, compileScalarFns, wgslHelpers } from '../../codegen/rowmath/functions.ts';
import { SCORES } from '../../codegen/rowmath/scores.ts';
import { compileRowMap, compileRowResult, LOG_SUM_EXP, SOFTMAX, SOFTMAX_BACKWARD, wgslReductions, wgslResult } from '../../codegen/rowmath/rows.ts';

describe('rowmath expressions', () => {
  it('parenthesise exactly where the tree needs it', () => {
    expect(toWgsl(sub(num(1), sub(x('a'), x('b'))))).toBe('1.0 - (a - b)');
    expect(toWgsl(sub(sub(num(1), x('a')), x('b')))).toBe('1.0 - a - b');
    expect(toWgsl(mul(add(x('a'), num(2)), x('b')))).toBe('(a + 2.0) * b');
    // Float addition is not associative: a right operand of equal precedence keeps its parentheses.
    expect(toWgsl(add(x('a'), add(x('b'), x('c'))))).toBe('a + (b + c)');
    expect(toJs(add(x('a'), add(x('b'), x('c'))), 'f32')).toBe('a + (b + c)');
  });

  it('compile the PCG hash to u32 arithmetic equal to a hand-written one', () => {
    const hand = (v: number) => {
      const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
      const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
      return ((w >>> 22) ^ w) >>> 0;
    };
    const { pcg } = compileScalarFns(['pcg']);
    for (const v of [0, 1, 12345, 0x7fffffff, 0xffffffff, 2891336453]) expect(pcg(v)).toBe(hand(v));
  });

  it('give sqrt(softplus(z)) and its gradient from p, as worked out independently', () => {
    // python3: p = sqrt(log1p(exp(z))); dp/dz = sigmoid(z) / (2p)
    const def = SCORES.sqrtsoftplus;
    if (def.shape !== 'elementwise') throw new Error('sqrtsoftplus is elementwise');
    const f = compileScalarFn(def.forward);
    const grad = compileScalarFn(def.grad);
    for (const [z, p, dpdz] of [
      [0, 0.8325546111576977, 0.30028060219661246],
      [2, 1.4583991261115636, 0.3019739460233685],
      [-3, 0.2204253877704246, 0.10757806452621813],
    ] as const) {
      expect(Math.abs(f(z) - p)).toBeLessThan(1e-15);
      expect(Math.abs(grad(p, 1) - dpdz) / dpdz).toBeLessThan(1e-12);
    }
    // Huge logits neither overflow nor lose the gradient; p = 0 has gradient 0, not NaN.
    expect(f(1000)).toBeCloseTo(Math.sqrt(1000), 12);
    expect(grad(0, 1)).toBe(0);
  });

  it('emit the helpers a kernel uses and their dependencies only', () => {
    const gelu = wgslHelpers('act_gelu');
    expect(gelu).toContain('fn erf_f32(');
    expect(gelu).toContain('fn act_gelu(');
    expect(gelu).not.toContain('sigmoid_f32');
    const silu = wgslHelpers('dact_silu');
    expect(silu.indexOf('fn sigmoid_f32(')).toBeLessThan(silu.indexOf('fn dact_silu('));
    expect(silu).not.toContain('erf_f32');
    expect(wgslHelpers('act_relu')).toBe('fn act_relu(x: f32) -> f32 { return max(x, 0.0); }');
  });

  it('row programs: log-sum-exp with its sentinel, softmax and its backward', () => {
    const lse = compileRowResult(LOG_SUM_EXP);
    // python3: math.log(math.exp(1) + math.exp(2) + math.exp(3))
    expect(lse([1, 2, 3])).toBeCloseTo(3.40760596444438, 14);
    expect(lse([-Infinity, -Infinity])).toBe(-Infinity);
    expect(lse([1000, 1000])).toBeCloseTo(1000 + Math.LN2, 12);
    const p = compileRowMap(SOFTMAX)([0, Math.log(3)]);
    expect(p[0]).toBeCloseTo(0.25, 15);
    expect(p[1]).toBeCloseTo(0.75, 15);
    // dz = p (dp − p·dp): p = [0.25, 0.75], dp = [1, 0] → p·dp = 0.25 → [0.1875, −0.1875].
    expect([...compileRowMap(SOFTMAX_BACKWARD)([0.25, 0.75], [1, 0])]).toEqual([0.1875, -0.1875]);
    const wgsl = [...wgslReductions(LOG_SUM_EXP, 8, (_r, s) => `z[${s}]`), wgslResult(LOG_SUM_EXP)].join('\n');
    expect(wgsl).toBe(['var zmax = -3.4e38;', 'for (var s = 0u; s < 8u; s++) { zmax = max(zmax, z[s]); }', 'var sum = 0.0;', 'for (var s = 0u; s < 8u; s++) { sum += exp(z[s] - zmax); }', 'zmax + log(sum)'].join('\n'));
  });
});
