/** `global_balance_loss`: the Switch balance loss with expert counts summed over a step's micro-batches. */
import { defineOp, f32, i32, int, num } from './op_def.ts';

export const global_balance_loss = defineOp({
  kind: 'global_balance_loss',
  signature: { inputs: { probs: f32(2), demand: i32(1) }, outputs: { loss: f32(1) }, attrs: { alpha: num('α, the coefficient'), k: int('experts per token', 1) } },
  doc: {
    section: 'loss',
    math: [
      '`probs [N, E], demand [E] → loss`, attrs `alpha`, `k`: `loss = α·E·Σ_e f_e·P_e` with `P_e = mean_t probs[t, e]` and',
      '`f_e = c_e / (T·k)`, where, in a training step, `c_e` and `T` are the choices of e and the tokens of this micro-batch',
      "and the step's earlier ones (the kernel keeps the running sums and starts them afresh each step); outside",
      'training (tests, validation) `c_e = demand_e`, `T = N`: the balance loss of one micro-batch.',
    ].join('\n'),
    backward: '`dprobs[t, e] += α·E·f_e / N` (f counts selections: no gradient).',
  },
  infer: () => ({ loss: [1] }),
  verify: (op, shape) => (shape(op.inputs.demand)[0] !== shape(op.inputs.probs)[1] ? 'demand length differs from the expert count' : undefined),
  flops: (op, shape) => 2 * shape(op.inputs.probs)[0]! * shape(op.inputs.probs)[1]!,
});
