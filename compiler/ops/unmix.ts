/** `unmix`: each token takes back a weighted sum of its group's slot outputs. */
import { checkGroups, GROUP_ATTRS } from './mix_groups.ts';
import { defineOp, f32, int } from './op_def.ts';

export const unmix = defineOp({
  kind: 'unmix',
  signature: { inputs: { expert_out: f32(2), combine_weights: f32(2) }, outputs: { y: f32(2) }, attrs: { ...GROUP_ATTRS, slots: int('p, slots per expert', 1) } },
  doc: {
    section: 'moe',
    math: '`expert_out [E·groups·p, d], combine_weights [N, S] → y [N, d]`: `y[u] = Σ_s combine_weights[u, s] · expert_out[r(s, g(u))]`.',
    backward: '`dexpert_out[r(s, g)] += Σ_{u in g} combine_weights[u, s]·dy[u]`; `dcombine_weights[u, s] += dy[u] · expert_out[r(s, g(u))]`.',
  },
  infer: (op, shape) => ({ y: [shape(op.inputs.combine_weights)[0]!, shape(op.inputs.expert_out)[1]!] }),
  verify: (op, shape) =>
    shape(op.inputs.expert_out)[0] !== shape(op.inputs.combine_weights)[1]! * op.attrs.groups ? 'expert_out rows are not slots × groups' : checkGroups(op.attrs, shape(op.inputs.combine_weights)[0]!),
  flops: (op, shape) => 2 * shape(op.inputs.combine_weights)[0]! * shape(op.inputs.combine_weights)[1]! * shape(op.inputs.expert_out)[1]!,
});
