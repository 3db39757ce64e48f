/**
 * The IR: a typed tensor graph with concrete shapes. Lowering produces it
 * from a ModelSpec; the reference interpreter evaluates it in Float64; the
 * code generators turn each op into forward and backward WGSL kernels.
 *
 * Each op kind is defined once, in compiler/ops/<kind>.ts (signature, shape
 * inference, checks, FLOPs, docs); the op types here come from those
 * definitions. The graph is the forward pass; every kind has a defined
 * backward, and the step order is the Schedule (codegen/schedule.ts).
 */
export type { DType, Init, Tensor, TensorRole } from './tensor.ts';
export { numel } from './tensor.ts';
export type { Op, OpKind, OpOf } from './ops/registry.ts';
import type { Op } from './ops/registry.ts';
import type { Tensor } from './tensor.ts';

/** Attribute values of an op: all plain data, so IR dumps and cache keys are stable. */
export type AttrValue = number | string | boolean;

/** A lowered graph: tensors, ops in execution order, and the losses summed into the objective. */
export interface Graph {
  /** What was lowered: `model` or `layer`. */
  readonly kind: 'model' | 'layer' | 'decode';
  readonly name: string;
  readonly batch: number;
  readonly seq: number;
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly ops: readonly Op[];
  /** Scalar tensors whose sum is the training objective. */
  readonly losses: readonly string[];
  /** Ops run after each optimizer step, outside backprop (loss-free bias balancing). */
  readonly stateUpdates: readonly Op[];
  /** The main output (`logits` of a model, `y` of a layer). */
  readonly output: string;
}
