/**
 * Which activation function a kernel applies; the functions themselves are
 * defined once in codegen/rowmath/functions.ts (WGSL has no erf, so gelu's
 * exact form uses Abramowitz & Stegun 7.1.26 there; the Float64 reference
 * renders the same definitions with a full-precision erf).
 */
import type { Activation } from '../../compiler/schema.ts';

/** The non-gated function applied to a pre-activation: swiglu's gate uses silu. */
export function baseActivation(a: Activation): Exclude<Activation, 'swiglu'> {
  return a === 'swiglu' ? 'silu' : a;
}

/** `fn` applied to each component of a vec4<f32> expression `v` (which should be a plain name: it is repeated). */
export function componentwise(fn: string, v: string): string {
  return `vec4<f32>(${fn}(${v}.x), ${fn}(${v}.y), ${fn}(${v}.z), ${fn}(${v}.w))`;
}
