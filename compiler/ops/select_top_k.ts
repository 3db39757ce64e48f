/** `select_top_k`: token choice, each token takes its k highest-scoring experts. */
import { defineOp, f32, i32, int, oneOf, optional } from './op_def.ts';

export const select_top_k = defineOp({
  kind: 'select_top_k',
  signature: {
    inputs: { probs: f32(2), bias: optional(f32(1), 'loss-free balancing (selection only)') },
    outputs: { token_expert: i32(2), token_gate: f32(2) },
    attrs: { k: int('experts per token', 1), weights: oneOf(['raw', 'renormalized'], 'gate of a selected expert') },
  },
  doc: {
    section: 'moe',
    math: [
      '`probs [N, E], (bias [E]) → token_expert [N, k] i32, token_gate [N, k]`,',
      "attrs `k`, `weights`: each token's experts in descending order of",
      '`probs + bias` (ties: lower expert index). `token_gate[t, j] = probs[t, e_j]`',
      '(the unbiased score); `weights renormalized`: divided by `Σ_j probs[t, e_j]`.',
    ].join('\n'),
    backward: '(raw) `dprobs[t, e_j] += dgate[t, j]`; renormalized with `g_j = p_j / Σ`: `dprobs[t, e_j] += (dgate_j − Σ_i dgate_i g_i) / Σ`.',
  },
  infer: (op, shape) => {
    const rows = [shape(op.inputs.probs)[0]!, op.attrs.k];
    return { token_expert: rows, token_gate: rows };
  },
  verify: (op, shape) => {
    const E = shape(op.inputs.probs)[1]!;
    if (op.attrs.k > E) return `k ${op.attrs.k} exceeds the ${E} experts`;
    return op.inputs.bias && shape(op.inputs.bias)[0] !== E ? 'bias length differs from the expert count' : undefined;
  },
  flops: (op, shape) => shape(op.inputs.probs)[0]! * shape(op.inputs.probs)[1]! * op.attrs.k,
});
