/**
 * Softmax, its backward and log-sum-exp over one vector, in Float64, shifted
 * by the maximum so that exp never overflows: compiled from the row programs
 * the kernels render too (codegen/rowmath/rows.ts). Used by the router,
 * attention, mixing weights, cross-entropy and the z-loss.
 */
import { compileRowMap, compileRowResult, LOG_SUM_EXP, SOFTMAX, SOFTMAX_BACKWARD } from '../rowmath/rows.ts';

/** log Σ_i exp(z_i) (−∞ for an all −∞ row). */
export const logSumExp: (z: ArrayLike<number>) => number = compileRowResult(LOG_SUM_EXP);

/** softmax(z)_i = exp(z_i − max) / Σ_j exp(z_j − max). */
export const softmax: (z: ArrayLike<number>) => Float64Array = compileRowMap(SOFTMAX);

/** Gradient of the softmax's input given p = softmax(z) and dp: dz = p ⊙ (dp − Σ_j p_j·dp_j). */
export const softmaxBackward: (p: ArrayLike<number>, dp: ArrayLike<number>) => Float64Array = compileRowMap(SOFTMAX_BACKWARD);
