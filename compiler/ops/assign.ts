/** `assign`: capacity, drops and row assignment of token-choice selections. */
import { bool, defineOp, f32, i32, int, oneOf, optional, withDefault } from './op_def.ts';
import { ROUTING_TABLES } from './routing_tables.ts';

export const assign = defineOp({
  kind: 'assign',
  signature: {
    inputs: {
      token_expert: i32(2),
      token_gate: optional(f32(2), 'drop by_probability: the gates that decide which choices an expert keeps'),
    },
    outputs: ROUTING_TABLES,
    attrs: {
      experts: int('E, the experts that compute (choices of experts ≥ E are null experts)', 1),
      capacity: int('choices one expert keeps per scope; 0 = none (dropless)'),
      rows: int('R, rows of the expert buffers', 1),
      null_experts: withDefault(int('null (zero-computation) experts after the E real ones: chosen, counted, never computed'), 0),
      drop: withDefault(oneOf(['by_position', 'by_probability'], 'which choices an expert over capacity keeps: the first in priority order, or those with the largest gates'), 'by_position'),
      seq: withDefault(int('capacity scope: 0 = every token of the call; S = each sequence of S tokens on its own'), 0),
      may_skip: withDefault(bool('token_expert may hold −1 (a cut left places unused): such places get token_slot −1'), false),
    },
  },
  doc: {
    section: 'moe',
    math: [
      '`token_expert [N, k], (token_gate [N, k]) → token_slot [N, k], slot_token [R], expert_offsets [E+1], load [E+n], demand [E+n]`,',
      'attrs `experts = E`, `capacity = C` (0 = none), `rows = R`, `null_experts = n`, `drop`, `seq`.',
      '`demand[e]` counts every choice of e (−1 choices are none). Choices of a null expert (`e ≥ E`)',
      'are kept (`load = demand`) and get no row. A real expert keeps at most C choices per scope (the',
      'whole call, or each sequence of `seq` tokens): `by_position` keeps the first in priority order —',
      "every token's 1st choice in token order, then every 2nd choice, … —, `by_probability` those",
      'with the largest `token_gate` (ties in priority order). Dropped choices get `token_slot = −1`.',
      '`load[e]` is the kept count; `expert_offsets` its exclusive prefix sum over the real experts;',
      'the kept choice `(t, j)` of expert e that is its p-th kept one in priority order gets row',
      '`expert_offsets[e] + p`: `token_slot[t, j]` = that row, `slot_token[row] = t`. Rows past',
      '`expert_offsets[E]` hold `slot_token = −1`.',
    ].join('\n'),
  },
  infer: (op, shape) => {
    const [N, K] = shape(op.inputs.token_expert) as [number, number];
    const E = op.attrs.experts;
    const all = E + op.attrs.null_experts;
    return { token_slot: [N, K], slot_token: [op.attrs.rows], expert_offsets: [E + 1], load: [all], demand: [all] };
  },
  verify: (op, shape) => {
    const [N, K] = shape(op.inputs.token_expert) as [number, number];
    const { capacity, seq } = op.attrs;
    if (seq > 0 && N % seq !== 0) return `seq ${seq} does not divide the ${N} tokens`;
    if ((op.attrs.drop === 'by_probability') !== !!op.inputs.token_gate) return 'token_gate exactly when drop is by_probability';
    if (op.inputs.token_gate && shape(op.inputs.token_gate).join() !== [N, K].join()) return 'token_gate and token_expert differ in shape';
    const scopes = seq > 0 ? N / seq : 1;
    const bound = capacity > 0 ? Math.min(N * K, op.attrs.experts * capacity * scopes) : N * K;
    return op.attrs.rows < bound ? `rows ${op.attrs.rows} cannot hold the ${bound} choices capacity keeps` : undefined;
  },
  flops: () => 0,
});
