/** `linear`: y = x·Wᵀ with PyTorch's [out, in] weight layout. */
import { defineOp, f32 } from './op_def.ts';

export const linear = defineOp({
  kind: 'linear',
  signature: { inputs: { x: f32(2), weight: f32(2) }, outputs: { y: f32(2) }, attrs: {} },
  doc: {
    section: 'model',
    math: '`x [M, K], weight [O, K] → y [M, O]`: `y = x·weightᵀ`.',
    backward: '`dx += dy·weight`; `dweight += dyᵀ·x` (skipped when weight is frozen).',
  },
  infer: (op, shape) => ({ y: [shape(op.inputs.x)[0]!, shape(op.inputs.weight)[0]!] }),
  verify: (op, shape) => (shape(op.inputs.weight)[1] !== shape(op.inputs.x)[1] ? 'weight [out, in] does not match the width of x' : undefined),
  flops: (op, shape) => 2 * shape(op.inputs.x)[0]! * shape(op.inputs.x)[1]! * shape(op.inputs.weight)[0]!,
});
