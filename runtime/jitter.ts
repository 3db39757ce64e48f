/**
 * The router-input jitter noise of training steps, computed on the host
 * exactly as the kernels do (codegen/wgsl/ops/routing.ts): a PCG hash of
 * (seed, step, token, channel) mapped to U(1 − ε, 1 + ε).
 */
import { compileScalarFns } from '../codegen/rowmath/functions.ts';

/** The PCG hash, compiled from the definition the kernels render (codegen/rowmath/functions.ts). */
const { pcg } = compileScalarFns(['pcg']);

/** The noise multiplying x[t, c] (width d) at training step `step`. */
export function jitterNoise(seed: number, step: number, t: number, c: number, d: number, eps: number): number {
  const h = pcg((seed >>> 0) ^ pcg((step >>> 0) ^ pcg((t * d + c) >>> 0)));
  return Math.fround(1 - eps) + Math.fround(2 * eps) * ((h >>> 8) / 16777216);
}
