/**
 * The value types of the Float64 reference interpreter. Every f32 tensor of
 * the IR is held as a Float64Array (the reference computes in double
 * precision, so a kernel's f32 error can be measured against it), every i32
 * tensor as an Int32Array. Tensors are keyed by their IR name.
 */
import type { Graph, Tensor } from '../../compiler/ir.ts';
import { numel } from '../../compiler/ir.ts';

/** One tensor's elements, row-major. */
export type RefTensor = Float64Array | Int32Array;

/** Tensor name → value: inputs, params, frozen and state tensors, and everything the ops compute. */
export type RefValues = Map<string, RefTensor>;

/** Tensor name → gradient of the objective with respect to it (f32 tensors only). */
export type RefGrads = Map<string, Float64Array>;

/** A zero-filled array of the right type and size for a tensor of the graph. */
export function allocateTensor(tensor: Tensor): RefTensor {
  const n = numel(tensor.shape);
  return tensor.dtype === 'i32' ? new Int32Array(n) : new Float64Array(n);
}

/**
 * Whether backward computes a gradient for this tensor: f32 tensors that are
 * params, activations, losses or (f32) inputs such as a layer's `x`. Frozen
 * weights, state (the loss-free bias) and integer index tensors get none.
 */
export function takesGradient(graph: Graph, name: string): boolean {
  const t = graph.tensors.get(name);
  if (!t) throw new Error(`reference: unknown tensor ${name}`);
  if (t.dtype !== 'f32') return false;
  return t.role !== 'frozen' && t.role !== 'state' && t.role !== 'index';
}
