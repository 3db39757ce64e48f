/**
 * The order of work, decided once: the Schedule of a graph says which ops
 * run forward (graph order) and backward (reverse), which run after each
 * optimizer step (state updates), and the phases of one training step.
 * The training harness generator, the GPU graph runner and the Float64
 * reference all read it, so none of them re-derives the order.
 */
import type { Graph, Op } from './ir.ts';

/** One phase of a micro-batch (a training step runs `accumulate` of them). */
export type MicroBatchPhase =
  /** Token ids and targets of the micro-batch are written. */
  | { readonly kind: 'load_batch' }
  | { readonly kind: 'forward' }
  /** Every gradient except the parameters' (which accumulate) and the losses' (fixed at 1/accumulate). */
  | { readonly kind: 'zero_activation_grads' }
  | { readonly kind: 'backward' };

/** One phase of a training step, in order. */
export type StepPhase =
  /** Parameter gradients start at zero once per step: they accumulate over the micro-batches. */
  | { readonly kind: 'zero_param_grads' }
  | { readonly kind: 'micro_batches'; readonly phases: readonly MicroBatchPhase[] }
  /** The global gradient norm and the clip scale (1 when clipping is off or not needed). */
  | { readonly kind: 'gradient_norm' }
  /** Every trained parameter's optimizer update, its gradient scaled by the clip scale. */
  | { readonly kind: 'optimizer_update' }
  /** Ops outside backprop (loss-free balancing), on the last micro-batch's forward values. */
  | { readonly kind: 'state_updates' };

export interface Schedule {
  /** The forward pass: every op in graph order. */
  readonly forward: readonly Op[];
  /** The backward pass: every op in reverse order (each adds into its inputs' gradients). */
  readonly backward: readonly Op[];
  /** Run after each optimizer step, in order. */
  readonly stateUpdates: readonly Op[];
  /** One training step. */
  readonly step: readonly StepPhase[];
}

/** The schedule of a lowered graph. */
export function scheduleOf(graph: Graph): Schedule {
  return {
    forward: graph.ops,
    backward: [...graph.ops].reverse(),
    stateUpdates: graph.stateUpdates,
    step: [
      { kind: 'zero_param_grads' },
      { kind: 'micro_batches', phases: [{ kind: 'load_batch' }, { kind: 'forward' }, { kind: 'zero_activation_grads' }, { kind: 'backward' }] },
      { kind: 'gradient_norm' },
      { kind: 'optimizer_update' },
      { kind: 'state_updates' },
    ],
  };
}
