/**
 * The activations of docs/IR.md and their derivatives, in Float64:
 *
 * | name   | act(x)                   | act'(x)                          |
 * |--------|--------------------------|----------------------------------|
 * | relu   | max(x, 0)                | 1 if x > 0 else 0                |
 * | gelu   | x/2 · (1 + erf(x/√2))    | Φ(x) + x·φ(x)                    |
 * | silu   | x·σ(x)                   | σ(x)·(1 + x·(1 − σ(x)))          |
 * | swiglu | silu(gate) ⊙ up          | d up = dy·silu(gate); d gate = dy·up·silu'(gate) |
 *
 * swiglu is the only gated one: it takes two pre-activations (up and gate).
 */
import { compileScalarFns } from '../rowmath/functions.ts';
import { erf } from './erf.ts';

/** The activation names of the IR (`activation` attributes). */
export type ActivationName = 'relu' | 'gelu' | 'silu' | 'swiglu';

/**
 * The scalar functions, compiled from their one definition
 * (codegen/rowmath/functions.ts, which the WGSL kernels render too) with a
 * full-precision erf in place of the kernels' f32 approximation.
 */
const F = compileScalarFns(['sigmoid_f32', 'act_relu', 'dact_relu', 'act_gelu', 'dact_gelu', 'act_silu', 'dact_silu'], erf);

/** σ(x) = 1 / (1 + exp(−x)) (exp(−x) may overflow to ∞, giving exactly 0). */
export const sigmoid: (x: number) => number = F.sigmoid_f32;
/** max(x, 0). */
export const relu: (x: number) => number = F.act_relu;
/** 1 for x > 0, else 0 (0 at the kink, as docs/IR.md says). */
export const reluDerivative: (x: number) => number = F.dact_relu;
/** The exact GELU x/2·(1 + erf(x/√2)). */
export const gelu: (x: number) => number = F.act_gelu;
/** Φ(x) + x·φ(x), φ the standard normal density. */
export const geluDerivative: (x: number) => number = F.dact_gelu;
/** x·σ(x). */
export const silu: (x: number) => number = F.act_silu;
/** σ(x)·(1 + x·(1 − σ(x))). */
export const siluDerivative: (x: number) => number = F.dact_silu;

/** Reads an `activation` attribute, rejecting names the IR does not define. */
export function activationName(value: unknown, where: string): ActivationName {
  if (value === 'relu' || value === 'gelu' || value === 'silu' || value === 'swiglu') return value;
  throw new Error(`reference: ${where}: unknown activation ${String(value)}`);
}

/** Whether the activation takes a gate pre-activation besides its input (swiglu). */
export function isGated(name: ActivationName): boolean {
  return name === 'swiglu';
}

/** act(x) of an ungated activation. */
export function activate(name: Exclude<ActivationName, 'swiglu'>, x: number): number {
  switch (name) {
    case 'relu':
      return relu(x);
    case 'gelu':
      return gelu(x);
    case 'silu':
      return silu(x);
  }
}

/** act'(x) of an ungated activation. */
export function activateDerivative(name: Exclude<ActivationName, 'swiglu'>, x: number): number {
  switch (name) {
    case 'relu':
      return reluDerivative(x);
    case 'gelu':
      return geluDerivative(x);
    case 'silu':
      return siluDerivative(x);
  }
}

/**
 * One hidden unit of any activation: `up` is the input pre-activation and
 * `gate` the gate pre-activation (read only by swiglu). Returns the value.
 */
export function applyActivation(name: ActivationName, up: number, gate: number): number {
  return name === 'swiglu' ? silu(gate) * up : activate(name, up);
}

/**
 * The backward of `applyActivation` for one hidden unit given its upstream
 * gradient `dh`: the gradients of `up` and of `gate` (0 when ungated).
 */
export function activationBackward(name: ActivationName, up: number, gate: number, dh: number): { dUp: number; dGate: number } {
  if (name === 'swiglu') return { dUp: dh * silu(gate), dGate: dh * up * siluDerivative(gate) };
  return { dUp: dh * activateDerivative(name, up), dGate: 0 };
}
