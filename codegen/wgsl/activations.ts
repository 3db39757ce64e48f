/**
 * WGSL helpers for activations and their derivatives. WGSL has no erf, so
 * gelu's exact form uses Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, about
 * f32 precision); the Float64 reference uses a full-precision erf.
 */
import type { Activation } from '../../compiler/schema.ts';

export const ACTIVATION_FNS = `fn erf_f32(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26; odd symmetry for x < 0.
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(-y, y, x >= 0.0);
}
fn sigmoid_f32(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn act_relu(x: f32) -> f32 { return max(x, 0.0); }
fn dact_relu(x: f32) -> f32 { return select(0.0, 1.0, x > 0.0); }
fn act_gelu(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_f32(x * 0.70710678118654752)); }
fn dact_gelu(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_f32(x * 0.70710678118654752));
  return cdf + x * exp(-0.5 * x * x) * 0.39894228040143268;
}
fn act_silu(x: f32) -> f32 { return x * sigmoid_f32(x); }
fn dact_silu(x: f32) -> f32 { let s = sigmoid_f32(x); return s * (1.0 + x * (1.0 - s)); }`;

/** The non-gated function applied to a pre-activation: swiglu's gate uses silu. */
export function baseActivation(a: Activation): 'relu' | 'gelu' | 'silu' {
  return a === 'swiglu' ? 'silu' : a;
}

/** `fn` applied to each component of a vec4<f32> expression `v` (which should be a plain name: it is repeated). */
export function componentwise(fn: string, v: string): string {
  return `vec4<f32>(${fn}(${v}.x), ${fn}(${v}.y), ${fn}(${v}.z), ${fn}(${v}.w))`;
}
