/**
 * Finite-difference checks of the reference backward. The objective is
 * J = Σ_o Σ(o ⊙ upstream_o) over the float outputs given an upstream
 * gradient, plus every loss of the graph (gradient 1). For each checked
 * coordinate, J is evaluated at ±step with the graph's forward, and the
 * central difference is compared with the analytic gradient of
 * referenceBackward. A coordinate whose perturbation changes any integer
 * (routing) output is skipped and counted: J is not differentiable there.
 */
import type { Graph, Op } from '../../compiler/ir.ts';
import { referenceBackward, referenceForward } from '../../codegen/reference/interpreter.ts';
import type { RefGrads, RefTensor, RefValues } from '../../codegen/reference/values.ts';
import { Rng } from './random.ts';

export interface GradientCase {
  /** The ops to run (a whole graph, or one op of it: see `singleOpGraph`). */
  readonly graph: Graph;
  /** Every tensor the ops read. */
  readonly values: RefValues;
  /** dJ/d output for the non-loss float outputs in J. */
  readonly upstream: RefGrads;
  /** The tensors whose gradients are checked. */
  readonly wrt: readonly string[];
  /** Coordinates to check per tensor (default: all). */
  readonly coords?: ReadonlyMap<string, readonly number[]>;
}

export interface GradientReport {
  readonly tensor: string;
  /** max |analytic − numeric| / max(max |numeric|, 1e-8) over the checked coordinates. */
  readonly maxRelError: number;
  readonly checked: number;
  /** Coordinates skipped because a perturbation changed a routing decision. */
  readonly skipped: number;
}

/** The graph restricted to one of its ops (its losses: those the op outputs). */
export function singleOpGraph(graph: Graph, op: Op): Graph {
  const outs = new Set(Object.values(op.outputs));
  return { ...graph, ops: [op], losses: graph.losses.filter((l) => outs.has(l)), stateUpdates: [] };
}

/** The f32 outputs of the graph's ops that are not losses: the ones J weights by an upstream gradient. */
export function floatOutputs(graph: Graph): string[] {
  const out: string[] = [];
  for (const op of graph.ops) {
    for (const name of Object.values(op.outputs)) {
      const t = graph.tensors.get(name)!;
      // Index tensors (routing data, f32 or not) take no gradient.
      if (t.dtype === 'f32' && t.role !== 'loss' && t.role !== 'index') out.push(name);
    }
  }
  return out;
}

/** A random upstream gradient (standard normal) for each of `names`. */
export function randomUpstream(graph: Graph, names: readonly string[], rng: Rng): RefGrads {
  const g: RefGrads = new Map();
  for (const name of names) g.set(name, rng.normals(numelOf(graph, name)));
  return g;
}

function numelOf(graph: Graph, name: string): number {
  return graph.tensors.get(name)!.shape.reduce((a, b) => a * b, 1);
}

function integerOutputs(graph: Graph): string[] {
  return graph.ops.flatMap((op) => Object.values(op.outputs).filter((n) => graph.tensors.get(n)!.dtype === 'i32'));
}

function sameInts(a: RefTensor, b: RefTensor): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Runs the forward with `name[coord]` set to `value`; returns the outputs, or null if a routing decision changed. */
function perturbedOutputs(c: GradientCase, base: RefValues, name: string, coord: number, value: number): RefValues | null {
  const values: RefValues = new Map(c.values);
  const v = Float64Array.from(c.values.get(name) as Float64Array);
  v[coord] = value;
  values.set(name, v);
  referenceForward(c.graph, values);
  for (const n of integerOutputs(c.graph)) if (!sameInts(values.get(n)!, base.get(n)!)) return null;
  return values;
}

/**
 * J(+) − J(−), summed term by term as Σ (o₊ − o₋) ⊙ upstream so that the
 * difference loses as little as possible to cancellation.
 */
function objectiveDifference(c: GradientCase, plus: RefValues, minus: RefValues): number {
  let diff = 0;
  for (const [name, up] of c.upstream) {
    const p = plus.get(name)!;
    const m = minus.get(name)!;
    for (let i = 0; i < up.length; i++) diff += (p[i]! - m[i]!) * up[i]!;
  }
  for (const loss of c.graph.losses) diff += plus.get(loss)![0]! - minus.get(loss)![0]!;
  return diff;
}

/** Checks the analytic gradients of `c.wrt` against central differences with the given step. */
export function finiteDifferenceCheck(c: GradientCase, step = 1e-6): GradientReport[] {
  const base: RefValues = new Map(c.values);
  referenceForward(c.graph, base);
  const grads: RefGrads = new Map([...c.upstream].map(([k, v]) => [k, Float64Array.from(v)]));
  referenceBackward(c.graph, base, grads);

  return c.wrt.map((name) => {
    const x = c.values.get(name);
    if (!(x instanceof Float64Array)) throw new Error(`no f32 value for ${name}`);
    const analytic = grads.get(name);
    if (!analytic) throw new Error(`backward produced no gradient for ${name}`);
    const coords = c.coords?.get(name) ?? Array.from(x.keys());
    let maxDiff = 0;
    let maxNumeric = 0;
    let checked = 0;
    let skipped = 0;
    for (const i of coords) {
      // The steps actually taken (x ± step rounds), so the quotient uses the true distance.
      const up = x[i]! + step;
      const down = x[i]! - step;
      const plus = perturbedOutputs(c, base, name, i, up);
      const minus = perturbedOutputs(c, base, name, i, down);
      if (!plus || !minus) {
        skipped++;
        continue;
      }
      const numeric = objectiveDifference(c, plus, minus) / (up - down);
      maxDiff = Math.max(maxDiff, Math.abs(analytic[i]! - numeric));
      maxNumeric = Math.max(maxNumeric, Math.abs(numeric));
      checked++;
    }
    return { tensor: name, maxRelError: maxDiff / Math.max(maxNumeric, 1e-8), checked, skipped };
  });
}
