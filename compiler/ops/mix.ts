/** `mix`: each slot's input is a weighted mixture of its group's tokens. */
import { checkGroups, GROUP_ATTRS } from './mix_groups.ts';
import { defineOp, f32, int } from './op_def.ts';

export const mix = defineOp({
  kind: 'mix',
  signature: { inputs: { x: f32(2), dispatch: f32(2) }, outputs: { slots_in: f32(2) }, attrs: { ...GROUP_ATTRS, slots: int('p, slots per expert', 1) } },
  doc: {
    section: 'moe',
    math: [
      '`x [N, d], dispatch [N, S] → slots_in [E·groups·p, d]`, attr `slots = p`:',
      'slot `s = e·p + j` of group g is row `r = e·(groups·p) + g·p + j`;',
      '`slots_in[r] = Σ_{u in g} dispatch[u, s] · x[u]`.',
    ].join('\n'),
    backward: '`dx[u] += Σ_s dispatch[u, s] · dslots_in[r(s, g(u))]`; `ddispatch[u, s] += x[u] · dslots_in[r(s, g(u))]`.',
  },
  infer: (op, shape) => ({ slots_in: [shape(op.inputs.dispatch)[1]! * op.attrs.groups, shape(op.inputs.x)[1]!] }),
  verify: (op, shape) => (shape(op.inputs.dispatch)[1]! % op.attrs.slots !== 0 ? 'dispatch columns are not experts × slots' : checkGroups(op.attrs, shape(op.inputs.x)[0]!)),
  flops: (op, shape) => 2 * shape(op.inputs.x)[0]! * shape(op.inputs.dispatch)[1]! * shape(op.inputs.x)[1]!,
});
