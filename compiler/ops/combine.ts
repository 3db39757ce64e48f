/** `combine`: each token gathers its kept expert rows, weighted by its gates. */
import { defineOp, f32, i32, optional } from './op_def.ts';

export const combine = defineOp({
  kind: 'combine',
  signature: {
    inputs: { expert_out: f32(2), token_slot: i32(2), token_gate: optional(f32(2), 'absent when the gates were applied to the experts\' inputs (apply_gates input): every kept row counts once') },
    outputs: { y: f32(2) },
    attrs: {},
  },
  doc: {
    section: 'moe',
    math: '`expert_out [R, d], token_slot [N, K], (token_gate [N, K]) → y [N, d]`: `y[t] = Σ_{j: token_slot[t,j] ≥ 0} token_gate[t, j] · expert_out[token_slot[t, j]]` (gate 1 without `token_gate`).',
    backward: '`dexpert_out[token_slot[t,j]] += token_gate[t,j]·dy[t]`; `dtoken_gate[t, j] += dy[t]·expert_out[token_slot[t,j]]` (0 when dropped).',
  },
  infer: (op, shape) => ({ y: [shape(op.inputs.token_slot)[0]!, shape(op.inputs.expert_out)[1]!] }),
  verify: (op, shape) => (op.inputs.token_gate && shape(op.inputs.token_gate).join() !== shape(op.inputs.token_slot).join() ? 'token_gate and token_slot differ in shape' : undefined),
  flops: (op, shape) => 2 * shape(op.inputs.token_slot)[0]! * shape(op.inputs.token_slot)[1]! * shape(op.inputs.expert_out)[1]!,
});
