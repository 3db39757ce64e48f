/** `assign`: capacity and row assignment of token-choice selections. */
import { defineOp, i32, int } from './op_def.ts';
import { ROUTING_TABLES, tableShapes } from './routing_tables.ts';

export const assign = defineOp({
  kind: 'assign',
  signature: {
    inputs: { token_expert: i32(2) },
    outputs: ROUTING_TABLES,
    attrs: { experts: int('E', 1), capacity: int('rows per expert; 0 = none (dropless)'), rows: int('R, rows of the expert buffers', 1) },
  },
  doc: {
    section: 'moe',
    math: [
      '`token_expert [N, k] → token_slot [N, k], slot_token [R], expert_offsets [E+1], load [E], demand [E]`,',
      'attrs `experts`, `capacity` (0 = none), `rows = R`: `demand[e]` counts all',
      'choices of e. Slots are filled in priority order — every token\'s 1st choice',
      'in token order, then every 2nd choice, … — and a choice whose expert already',
      'holds `capacity` is dropped (`token_slot = −1`). `load[e]` is the kept count;',
      '`expert_offsets` is its exclusive prefix sum (`expert_offsets[E]` = rows',
      'used); the kept choice `(t, j)` of expert e that is its p-th in priority order',
      'gets row `expert_offsets[e] + p`: `token_slot[t, j]` = that row and',
      '`slot_token[row] = t`. Rows past `expert_offsets[E]` hold `slot_token = −1`.',
    ].join('\n'),
  },
  infer: (op, shape) => {
    const [N, K] = shape(op.inputs.token_expert) as [number, number];
    return tableShapes(N, K, op.attrs.experts, op.attrs.rows);
  },
  verify: (op, shape) => {
    const [N, K] = shape(op.inputs.token_expert) as [number, number];
    const bound = op.attrs.capacity > 0 ? Math.min(N * K, op.attrs.experts * op.attrs.capacity) : N * K;
    return op.attrs.rows < bound ? `rows ${op.attrs.rows} cannot hold the ${bound} choices capacity keeps` : undefined;
  },
  flops: () => 0,
});
