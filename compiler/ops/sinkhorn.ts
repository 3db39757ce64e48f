/** `sinkhorn`: balanced assignment scores (BASE layers), used to rank experts only. */
import { defineOp, f32, int } from './op_def.ts';

export const sinkhorn = defineOp({
  kind: 'sinkhorn',
  signature: { inputs: { logits: f32(2) }, outputs: { balanced: f32(2) }, attrs: { iterations: int('Sinkhorn iterations (a fixed count, so the result is deterministic)', 1) } },
  doc: {
    section: 'moe',
    math: [
      '`logits [N, E] → balanced [N, E]`, attr `iterations`: `c[t, e] = exp(z[t, e] − max_e z[t, e])`;',
      'from `d1 = 1`, `iterations` times: `d0[t] = (1/N) / (Σ_e d1[e]·c[t, e] + 1e-8)`, then',
      '`d1[e] = (1/E) / (Σ_t d0[t]·c[t, e] + 1e-8)`; `balanced[t, e] = d0[t]·c[t, e]·d1[e]`, a matrix whose',
      'rows and columns have (nearly) equal sums, so ranking it spreads tokens evenly over experts.',
      'It only ranks: no gradient flows through it.',
    ].join('\n'),
  },
  infer: (op, shape) => ({ balanced: shape(op.inputs.logits) }),
  flops: (op, shape) => 4 * op.attrs.iterations * shape(op.inputs.logits)[0]! * shape(op.inputs.logits)[1]!,
});
