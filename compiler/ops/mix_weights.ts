/** `mix_weights`: dispatch and combine weights of mixing routers (Mixture of Tokens, Soft MoE). */
import { checkGroups, GROUP_ATTRS } from './mix_groups.ts';
import { defineOp, f32, oneOf } from './op_def.ts';

export const mix_weights = defineOp({
  kind: 'mix_weights',
  signature: {
    inputs: { logits: f32(2) },
    outputs: { dispatch: f32(2), combine_weights: f32(2) },
    attrs: { ...GROUP_ATTRS, unmix: oneOf(['dispatch', 'slot_softmax'], 'combine weights: the dispatch weights or a softmax over slots') },
  },
  doc: {
    section: 'moe',
    math: [
      '`logits [N, S] → dispatch [N, S], combine_weights [N, S]`,',
      'attrs `group`, `batch`, `seq`, `groups`, `unmix`. Groups: with `group G > 0`,',
      'group `g = (b div G)·seq + s` holds the tokens at position s of sequences',
      '`(b div G)·G … (b div G)·G + G − 1` (Mixture of Tokens); with `group 0`',
      '(sequence), group `g = b` holds the tokens of sequence b (Soft MoE).',
      "`dispatch[u, s] = softmax over the tokens u of u's group of logits[·, s]`;",
      '`combine_weights = dispatch` (unmix dispatch) or `softmax_s(logits[u])`',
      '(unmix slot_softmax).',
    ].join('\n'),
    backward: 'softmax backward over each group (and over slots), summed into `dlogits`.',
  },
  infer: (op, shape) => ({ dispatch: shape(op.inputs.logits), combine_weights: shape(op.inputs.logits) }),
  verify: (op, shape) => checkGroups(op.attrs, shape(op.inputs.logits)[0]!),
  flops: (op, shape) => 10 * shape(op.inputs.logits)[0]! * shape(op.inputs.logits)[1]!,
});
