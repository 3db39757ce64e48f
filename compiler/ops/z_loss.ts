/** `z_loss`: the ST-MoE router z-loss. */
import { defineOp, f32, num } from './op_def.ts';

export const z_loss = defineOp({
  kind: 'z_loss',
  signature: { inputs: { logits: f32(2) }, outputs: { loss: f32(1) }, attrs: { beta: num('β, the coefficient') } },
  doc: { section: 'loss', math: '`logits [N, S] → loss`, attr `beta`: `loss = β · mean_t (logsumexp(logits[t]))²`.', backward: '`dlogits[t] += 2β·lse_t·softmax(logits[t]) / N`.' },
  infer: () => ({ loss: [1] }),
  flops: (op, shape) => 4 * shape(op.inputs.logits)[0]! * shape(op.inputs.logits)[1]!,
});
