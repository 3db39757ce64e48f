/**
 * The IR: a typed tensor graph with concrete shapes. Lowering produces it
 * from a ModelSpec; the reference interpreter evaluates it in Float64; the
 * code generators turn each op into forward and backward WGSL kernels.
 *
 * The graph is the forward pass. Every op kind has a defined backward (see
 * ir_ops.ts), so the backward schedule is the ops in reverse.
 */
import type { Origin } from './spec.ts';

export type DType = 'f32' | 'i32';

/**
 * What a tensor is for:
 * - input: fed by the caller (token ids, targets, a layer's x);
 * - param: trained; frozen: a fixed weight (MoV/MoLoRA base FFN);
 * - state: updated outside backprop (loss-free balancing bias);
 * - activation: a differentiable intermediate; index: integer routing data;
 * - loss: a scalar added to the objective.
 */
export type TensorRole = 'input' | 'param' | 'frozen' | 'state' | 'activation' | 'index' | 'loss';

/** How a parameter is initialised (seeded; see docs/MODEL.md). */
export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number };

export interface Tensor {
  /** Unique dotted name; parameters use checkpoint names (`blocks.1.moe.router.weight`). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly role: TensorRole;
  readonly init?: Init;
}

/** Attribute values of an op: all plain data, so IR dumps and cache keys are stable. */
export type AttrValue = number | string | boolean;

export interface Op {
  /** Unique name, e.g. `blocks.1.moe.router`. */
  readonly name: string;
  readonly kind: OpKind;
  /** Named operands: role in the op → tensor name. */
  readonly inputs: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  readonly attrs: Readonly<Record<string, AttrValue>>;
  /** The spec line that produced it. */
  readonly origin: Origin;
}

export type OpKind =
  | 'embed'
  | 'position_add'
  | 'norm'
  | 'linear'
  | 'rotary'
  | 'attention'
  | 'add'
  | 'ffn'
  | 'router'
  | 'select_top_k'
  | 'select_top_c'
  | 'select_all'
  | 'assign'
  | 'expert_ffn'
  | 'combine'
  | 'mix_weights'
  | 'mix'
  | 'unmix'
  | 'activation'
  | 'ia3_scale'
  | 'lora_linear'
  | 'balance_loss'
  | 'z_loss'
  | 'sequence_balance_loss'
  | 'cross_entropy'
  | 'bias_update';

/** A lowered graph: tensors, ops in execution order, and the losses summed into the objective. */
export interface Graph {
  /** What was lowered: `model` or `layer`. */
  readonly kind: 'model' | 'layer';
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

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
