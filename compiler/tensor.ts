/**
 * Tensors of the IR: dtype, role, shape and initialisation. Kept apart from
 * ir.ts so that op definitions (compiler/ops/) can describe their operands
 * without importing the graph type that is built from them.
 */

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

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
