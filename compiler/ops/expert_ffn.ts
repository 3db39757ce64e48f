/** `expert_ffn`: the routed experts' FFNs as grouped GEMMs over their rows. */
import { ACTIVATIONS } from '../schema.ts';
import { ffnFlops } from './ffn.ts';
import { bool, defineOp, f32, i32, int, oneOf, optional, type GraphView, type OpView } from './op_def.ts';

const signature = {
  inputs: {
    x: f32(2),
    up: f32(3),
    gate: optional(f32(3), 'swiglu only'),
    down: f32(3),
    slot_token: optional(i32(1), 'gather: the token of each row'),
    token_slot: optional(i32(2), 'gather: the rows of each token (for dx)'),
    expert_offsets: optional(i32(1), 'gather: where each expert\'s rows start'),
  },
  outputs: { out: f32(2) },
  attrs: {
    activation: oneOf(ACTIVATIONS, 'act of the hidden layer'),
    rows: int('R, rows of the expert buffers', 1),
    gather: bool('rows gather their token by slot_token (else row r is x[r])'),
    rows_per_expert: int('the most rows one expert holds', 1),
  },
} as const;

/** Rows an expert FFN really processes on average (drops and padding excluded). */
function expectedRows(op: OpView<typeof signature>, graph: GraphView): number {
  const bound = op.attrs.rows;
  if (!op.attrs.gather) return bound;
  const table = graph.ops.find((o) => o.outputs.token_slot && o.outputs.slot_token === op.inputs.slot_token);
  const tokenSlot = table && graph.tensors.get(table.outputs.token_slot!)?.shape;
  return tokenSlot ? Math.min(bound, tokenSlot[0]! * tokenSlot[1]!) : bound;
}

export const expert_ffn = defineOp({
  kind: 'expert_ffn',
  signature,
  doc: {
    section: 'moe',
    math: [
      '`x, up [E, H, d], (gate), down [E, d, H], (slot_token [R], token_slot [N, K], expert_offsets [E+1]) → out [R, d]`,',
      'attrs `activation`, `rows = R`, `gather`, `rows_per_expert` (the most rows one expert holds): row r belongs',
      'to expert e with `expert_offsets[e] ≤ r < expert_offsets[e+1]` (gather) or',
      '`e = ⌊r / rows_per_expert⌋` (contiguous); its input is `x[slot_token[r]]`',
      '(gather) or `x[r]`; `out[r] = down_e · act(up_e · input)`. Rows past',
      '`expert_offsets[E]` belong to no expert: their values are unspecified and',
      'nothing reads them.',
    ].join('\n'),
    backward: 'chain rule per row; `dx[t] += Σ_j d input[token_slot[t, j]]` (a token sums the rows it was routed to, in choice order); `dup_e`, `dgate_e`, `ddown_e` sum over the expert\'s rows.',
  },
  infer: (op, shape) => ({ out: [op.attrs.rows, shape(op.inputs.x)[1]!] }),
  verify: (op, shape) => {
    const [E, H, d] = shape(op.inputs.up) as [number, number, number];
    if (d !== shape(op.inputs.x)[1] || shape(op.inputs.down).join() !== [E, d, H].join()) return 'up/down are not [experts, hidden, width]/[experts, width, hidden]';
    if ((op.attrs.activation === 'swiglu') !== !!op.inputs.gate) return 'a gate weight exactly when the activation is swiglu';
    const tables = [op.inputs.slot_token, op.inputs.token_slot, op.inputs.expert_offsets].filter(Boolean).length;
    if (op.attrs.gather ? tables !== 3 : tables !== 0) return 'slot_token, token_slot and expert_offsets exactly when rows gather';
    if (op.inputs.slot_token && shape(op.inputs.slot_token)[0] !== op.attrs.rows) return 'slot_token length differs from rows';
    if (!op.attrs.gather && op.attrs.rows !== E * op.attrs.rows_per_expert) return 'contiguous rows must be experts × rows_per_expert';
    return undefined;
  },
  flops: (op, shape, graph) => ffnFlops(expectedRows(op, graph), shape(op.inputs.up)[2]!, shape(op.inputs.up)[1]!, !!op.inputs.gate),
});
