/** `cross_entropy`: the language-model loss. */
import { defineOp, f32, i32 } from './op_def.ts';

export const cross_entropy = defineOp({
  kind: 'cross_entropy',
  signature: { inputs: { logits: f32(2), targets: i32(1) }, outputs: { loss: f32(1) }, attrs: {} },
  doc: {
    section: 'model',
    math: '`logits [N, V], targets [N] i32 → loss [1]`: `loss = mean_t (logsumexp(logits[t]) − logits[t, targets[t]])`.',
    backward: '`dlogits[t] += (softmax(logits[t]) − onehot(targets[t])) / N`.',
  },
  infer: () => ({ loss: [1] }),
  verify: (op, shape) => (shape(op.inputs.targets)[0] !== shape(op.inputs.logits)[0] ? 'one target per row of logits' : undefined),
  flops: (op, shape) => 4 * shape(op.inputs.logits)[0]! * shape(op.inputs.logits)[1]!,
});
