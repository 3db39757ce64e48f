/** `scale_rows`: each row times its own scalar (the per-token sigmoid gate of shared experts). */
import { defineOp, f32 } from './op_def.ts';

export const scale_rows = defineOp({
  kind: 'scale_rows',
  signature: { inputs: { x: f32(2), scale: f32(2, '[N, 1]: one factor per row') }, outputs: { y: f32(2) }, attrs: {} },
  doc: {
    section: 'moe',
    math: '`x [N, d], scale [N, 1] → y [N, d]`: `y[t] = scale[t]·x[t]`.',
    backward: '`dx[t] += scale[t]·dy[t]`; `dscale[t] += dy[t]·x[t]`.',
  },
  infer: (op, shape) => ({ y: shape(op.inputs.x) }),
  verify: (op, shape) => (shape(op.inputs.scale).join() !== [shape(op.inputs.x)[0]!, 1].join() ? 'scale must be [rows, 1]' : undefined),
  flops: (op, shape) => shape(op.inputs.x)[0]! * shape(op.inputs.x)[1]!,
});
