/**
 * The Float64 reference interpreter of the IR: the oracle every generated
 * kernel is compared with. It implements docs/IR.md op by op, forward and
 * backward, in double precision, deterministically, with plain loops.
 *
 * Values and gradients live in maps keyed by tensor name (see values.ts).
 * Forward stores every op's outputs; backward *adds* into gradient buffers,
 * so a tensor used by several ops receives the sum of their contributions.
 */
import type { Graph, Op, OpKind } from '../../compiler/ir.ts';
import { scheduleOf } from '../../compiler/schedule.ts';
import { ADAPTER_OPS } from './ops/adapters.ts';
import { ATTENTION_OPS } from './ops/attention.ts';
import type { OpImpl } from './ops/context.ts';
import { DENSE_OPS } from './ops/dense.ts';
import { EXPERT_OPS } from './ops/experts.ts';
import { LOSS_OPS } from './ops/losses.ts';
import { ROUTING_OPS } from './ops/routing.ts';
import { allocateTensor, type RefGrads, type RefValues } from './values.ts';

/** Every op kind's implementation, from the tables of the ops files; a kind missing from all of them is a type error. */
const REFERENCE_OPS: { readonly [K in OpKind]: OpImpl<Extract<Op, { kind: K }>> } = {
  ...DENSE_OPS,
  ...ATTENTION_OPS,
  ...ROUTING_OPS,
  ...EXPERT_OPS,
  ...ADAPTER_OPS,
  ...LOSS_OPS,
};

function implOf(op: Op): OpImpl {
  // The mapped type pairs each kind with its own op type; TypeScript cannot follow that correlation through op.kind.
  const impl = REFERENCE_OPS[op.kind] as OpImpl;
  if (!impl) throw new Error(`reference: op ${op.name} has unknown kind ${String(op.kind)}`);
  return impl;
}

/**
 * Computes one op's outputs from its inputs in `values` and stores them in
 * `values` (fresh arrays: Float64Array for f32 tensors, Int32Array for i32).
 * Throws on a missing or mis-sized input, a malformed attribute or index, and
 * on a router with jitter > 0 (comparisons always run with jitter off).
 */
export function referenceOpForward(op: Op, graph: Graph, values: RefValues): void {
  implOf(op).forward(op, graph, values);
}

/**
 * Runs every op of the graph in the order of its Schedule. `values` must already hold the
 * graph's inputs, params, frozen and state tensors; afterwards it also holds
 * every activation, index tensor and loss.
 */
export function referenceForward(graph: Graph, values: RefValues): void {
  for (const op of scheduleOf(graph).forward) referenceOpForward(op, graph, values);
}

/**
 * One op's backward: reads the gradients of its float outputs from `grads`
 * (missing = zero, except a `loss` output, whose gradient is 1) and adds the
 * gradients of its float inputs into `grads`, creating zero buffers when
 * absent. Frozen, state, index and i32 tensors get none; f32 inputs (a
 * layer's `x`) do. Reads only the op's inputs from `values` (intermediates
 * are recomputed), never its outputs.
 */
export function referenceOpBackward(op: Op, graph: Graph, values: RefValues, grads: RefGrads): void {
  implOf(op).backward(op, graph, values, grads);
}

/**
 * Backpropagates through every op in the Schedule's backward order after seeding each of the
 * graph's losses with gradient 1 (unless `grads` already holds one). Put the
 * upstream gradient of the main output (e.g. `dy` of a layer's `y`) in
 * `grads` before calling; `values` must hold the forward pass's values.
 */
export function referenceBackward(graph: Graph, values: RefValues, grads: RefGrads): void {
  for (const loss of graph.losses) {
    if (grads.has(loss)) continue;
    const t = graph.tensors.get(loss);
    if (!t) throw new Error(`reference: unknown loss tensor ${loss}`);
    const one = allocateTensor(t) as Float64Array;
    one.fill(1);
    grads.set(loss, one);
  }
  for (const op of scheduleOf(graph).backward) referenceOpBackward(op, graph, values, grads);
}

/**
 * Runs the graph's state updates (bias_update: loss-free balancing after each
 * optimizer step), in order, on the values of the last forward pass; each
 * replaces its state tensor in `values` with the updated one.
 */
export function referenceStateUpdates(graph: Graph, values: RefValues): void {
  for (const op of scheduleOf(graph).stateUpdates) referenceOpForward(op, graph, values);
}
