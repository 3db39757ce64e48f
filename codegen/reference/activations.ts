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
import { ACTIVATIONS, type Activation } from '../../compiler/schema.ts';
import { compileScalarFns } from '../rowmath/functions.ts';
import { erf } from './erf.ts';

/** The activation names of the IR (`activation` attributes). */
export type ActivationName = Activation;
type Ungated = Exclude<ActivationName, 'swiglu'>;

/**
 * Every ungated activation's act_NAME and dact_NAME, compiled from their one
 * definition (codegen/rowmath/functions.ts, which the WGSL kernels render
 * too) with a full-precision erf in place of the kernels' f32 approximation.
 * A name in ACTIVATIONS without definitions there fails here, at load.
 */
const UNGATED = ACTIVATIONS.filter((a): a is Ungated => a !== 'swiglu');
const F = compileScalarFns(['sigmoid_f32', ...UNGATED.flatMap((a) => [`act_${a}`, `dact_${a}`])], erf) as Record<string, (x: number) => number>;
const ACT = Object.fromEntries(UNGATED.map((a) => [a, F[`act_${a}`]!])) as Record<Ungated, (x: number) => number>;
const DACT = Object.fromEntries(UNGATED.map((a) => [a, F[`dact_${a}`]!])) as Record<Ungated, (x: number) => number>;

/** σ(x) = 1 / (1 + exp(−x)) (exp(−x) may overflow to ∞, giving exactly 0). */
export const sigmoid = F.sigmoid_f32!;
/** The exact GELU x/2·(1 + erf(x/√2)). */
export const gelu = ACT.gelu;
/** Φ(x) + x·φ(x), φ the standard normal density. */
export const geluDerivative = DACT.gelu;
const silu = ACT.silu;
const siluDerivative = DACT.silu;

/** Reads an `activation` attribute, rejecting names the IR does not define. */
export function activationName(value: unknown, where: string): ActivationName {
  const found = ACTIVATIONS.find((a) => a === value);
  if (found === undefined) throw new Error(`reference: ${where}: unknown activation ${String(value)}`);
  return found;
}

/** Whether the activation takes a gate pre-activation besides its input (swiglu). */
export function isGated(name: ActivationName): boolean {
  return name === 'swiglu';
}

/** act(x) of an ungated activation. */
export function activate(name: Ungated, x: number): number {
  return ACT[name](x);
}

/** act'(x) of an ungated activation. */
export function activateDerivative(name: Ungated, x: number): number {
  return DACT[name](x);
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
