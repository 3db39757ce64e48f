/** `sequence_balance_loss`: DeepSeekMoE's sequence-level balance loss. */
import { defineOp, f32, i32, int, num } from './op_def.ts';

export const sequence_balance_loss = defineOp({
  kind: 'sequence_balance_loss',
  signature: {
    inputs: { probs: f32(2), token_expert: i32(2) },
    outputs: { loss: f32(1) },
    attrs: { alpha: num('α, the coefficient'), k: int('experts per token', 1), batch: int('sequences B', 1), seq: int('sequence length S', 1) },
  },
  doc: {
    section: 'loss',
    math: [
      '`probs [N, E], token_expert [N, k] → loss`, attrs `alpha`, `k`, `batch`, `seq`: with `c_be` the number of choices of',
      'expert e in sequence b and `P_be = mean_{t in b} probs[t, e]`,',
      '`loss = α · mean_b Σ_e (E/(k·S)) · c_be · P_be`.',
    ].join('\n'),
    backward: '`dprobs[t, e] += α/B · (E/(k·S)) · c_be / S`.',
  },
  infer: () => ({ loss: [1] }),
  verify: (op, shape) => (shape(op.inputs.probs)[0] !== op.attrs.batch * op.attrs.seq ? 'rows differ from batch × seq' : undefined),
  flops: (op, shape) => 2 * shape(op.inputs.probs)[0]! * shape(op.inputs.probs)[1]!,
});
