/** `attention`: causal multi-head self-attention over a fused qkv. */
import { defineOp, f32, int } from './op_def.ts';

export const attention = defineOp({
  kind: 'attention',
  signature: {
    inputs: { qkv: f32(2) },
    outputs: { y: f32(2) },
    attrs: { batch: int('sequences B', 1), seq: int('sequence length S', 1), heads: int('attention heads', 1) },
  },
  doc: {
    section: 'model',
    math: [
      '`qkv [N, 3d] → y [N, d]`, attrs `batch`, `seq`, `heads`: per',
      "sequence b and head h, `q, k, v` are the head's slices of columns",
      '`[0,d)`, `[d,2d)`, `[2d,3d)`; `s_ij = q_i·k_j / sqrt(D)` for `j ≤ i` (causal);',
      "`P = softmax_j(s)`; `y_i = Σ_j P_ij v_j` (written to the head's columns).",
    ].join('\n'),
    backward: [
      "`dP_ij = dy_i·v_j`; `dS_ij = P_ij (dP_ij − Σ_j' P_ij' dP_ij')`;",
      '`dq_i += Σ_j dS_ij k_j / sqrt(D)`; `dk_j += Σ_i dS_ij q_i / sqrt(D)`;',
      '`dv_j += Σ_i P_ij dy_i` (into the matching columns of `dqkv`).',
    ].join('\n'),
  },
  infer: (op, shape) => ({ y: [shape(op.inputs.qkv)[0]!, shape(op.inputs.qkv)[1]! / 3] }),
  verify: (op, shape) => {
    const [N, w] = shape(op.inputs.qkv) as [number, number];
    if (N !== op.attrs.batch * op.attrs.seq) return 'rows of qkv differ from batch × seq';
    return w % (3 * op.attrs.heads) !== 0 ? 'qkv width is not 3 × heads × head size' : undefined;
  },
  flops: (op, shape) => {
    const S = op.attrs.seq;
    return 2 * 2 * op.attrs.batch * shape(op.outputs.y)[1]! * ((S * (S + 1)) / 2);
  },
});
