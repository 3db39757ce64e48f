/** `select_all`: every expert takes every token (dense soft merging: MoV, MoLoRA). */
import { defineOp, f32 } from './op_def.ts';
import { probsShape, SELECTION_OUTPUTS, tableShapes } from './routing_tables.ts';

export const select_all = defineOp({
  kind: 'select_all',
  signature: { inputs: { probs: f32(2) }, outputs: SELECTION_OUTPUTS, attrs: {} },
  doc: {
    section: 'moe',
    math: [
      '`probs [N, E] → (the outputs of select_top_c)`: every expert takes every',
      'token: `token_expert[t, e] = e`, `token_gate = probs`, row `e·N + t`,',
      '`expert_offsets[e] = e·N`, `load = demand = N`.',
    ].join('\n'),
    backward: '`dprobs += dgate`.',
  },
  infer: (op, shape) => {
    const [N, E] = probsShape(shape, op.inputs.probs);
    return { token_expert: [N, E], token_gate: [N, E], ...tableShapes(N, E, E, E * N) };
  },
  flops: () => 0,
});
