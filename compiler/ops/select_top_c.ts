/** `select_top_c`: expert choice, each expert takes its c highest-scoring tokens. */
import { defineOp, f32, int } from './op_def.ts';
import { probsShape, SELECTION_OUTPUTS, tableShapes } from './routing_tables.ts';

export const select_top_c = defineOp({
  kind: 'select_top_c',
  signature: { inputs: { probs: f32(2) }, outputs: SELECTION_OUTPUTS, attrs: { c: int('tokens per expert', 1) } },
  doc: {
    section: 'moe',
    math: [
      '`probs [N, E] → token_expert [N, E], token_gate [N, E], token_slot [N, E], slot_token [E·c], expert_offsets, load, demand`,',
      'attr `c`: expert e takes the c tokens with the largest `probs[:, e]`',
      '(ties: lower token index), in that order at rows `e·c … e·c + c − 1`. For',
      'every token t and expert e: `token_expert[t, e] = e` if e took t, else −1;',
      '`token_slot[t, e]` its row or −1; `token_gate[t, e] = probs[t, e]` if taken,',
      'else 0. `expert_offsets[e] = e·c`, `load = demand = c`.',
    ].join('\n'),
    backward: '`dprobs[t, e] += dgate[t, e]` where taken.',
  },
  infer: (op, shape) => {
    const [N, E] = probsShape(shape, op.inputs.probs);
    return { token_expert: [N, E], token_gate: [N, E], ...tableShapes(N, E, E, E * op.attrs.c) };
  },
  verify: (op, shape) => (op.attrs.c > shape(op.inputs.probs)[0]! ? 'c exceeds the token count' : undefined),
  flops: (op, shape) => shape(op.inputs.probs)[0]! * shape(op.inputs.probs)[1]! * 4,
});
