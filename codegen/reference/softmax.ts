/**
 * Softmax, its backward and log-sum-exp over one vector, in Float64, shifted
 * by the maximum so that exp never overflows. Used by the router, attention,
 * mixing weights, cross-entropy and the z-loss.
 */

/** log Σ_i exp(z_i). */
export function logSumExp(z: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < z.length; i++) sum += Math.exp(z[i] - max);
  return max + Math.log(sum);
}

/** softmax(z)_i = exp(z_i − max) / Σ_j exp(z_j − max). */
export function softmax(z: ArrayLike<number>): Float64Array {
  const p = new Float64Array(z.length);
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]);
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    p[i] = Math.exp(z[i] - max);
    sum += p[i];
  }
  for (let i = 0; i < z.length; i++) p[i] /= sum;
  return p;
}

/** Gradient of the softmax's input given p = softmax(z) and dp: dz = p ⊙ (dp − Σ_j p_j·dp_j). */
export function softmaxBackward(p: ArrayLike<number>, dp: ArrayLike<number>): Float64Array {
  let dot = 0;
  for (let i = 0; i < p.length; i++) dot += p[i] * dp[i];
  const dz = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) dz[i] = p[i] * (dp[i] - dot);
  return dz;
}
