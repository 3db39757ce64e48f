/** `l1_loss`: the sparsity regulariser of ReLU routing. */
import { defineOp, f32, num } from './op_def.ts';

export const l1_loss = defineOp({
  kind: 'l1_loss',
  signature: { inputs: { probs: f32(2) }, outputs: { loss: f32(1) }, attrs: { lambda: num('λ, the coefficient') } },
  doc: {
    section: 'loss',
    math: '`probs [N, E] → loss`, attr `lambda`: `loss = λ · mean_t Σ_e |probs[t, e]|` (ReLU routing: the scores are ≥ 0, so it pushes them to 0, which deselects the expert).',
    backward: '`dprobs[t, e] += λ·sign(probs[t, e]) / N`.',
  },
  infer: () => ({ loss: [1] }),
  flops: (op, shape) => 2 * shape(op.inputs.probs)[0]! * shape(op.inputs.probs)[1]!,
});
