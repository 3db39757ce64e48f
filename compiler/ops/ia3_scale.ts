/** `ia3_scale`: MoV, the hidden layer scaled by a gate-weighted mixture of IA3 vectors. */
import { defineOp, f32, i32 } from './op_def.ts';

export const ia3_scale = defineOp({
  kind: 'ia3_scale',
  signature: { inputs: { x: f32(2), scale: f32(2), token_expert: i32(2), token_gate: f32(2) }, outputs: { y: f32(2) }, attrs: {} },
  doc: {
    section: 'moe',
    math: '`x [N, H], scale [E, H], token_expert [N, K], token_gate [N, K] → y`: `m[t] = Σ_{j: e_j ≥ 0} token_gate[t, j] · scale[e_j]`, `y[t] = x[t] ⊙ m[t]`.',
    backward: '`dx += dy ⊙ m`; `dscale[e_j] += token_gate[t,j]·(dy[t] ⊙ x[t])`; `dtoken_gate[t, j] += scale[e_j]·(dy[t] ⊙ x[t])`.',
  },
  infer: (op, shape) => ({ y: shape(op.inputs.x) }),
  verify: (op, shape) => (shape(op.inputs.scale)[1] !== shape(op.inputs.x)[1] ? 'scale width differs from x' : undefined),
  flops: (op, shape) => 2 * shape(op.inputs.x)[0]! * shape(op.inputs.x)[1]! * (shape(op.inputs.token_expert)[1]! + 1),
});
