/** `balance_loss`: the Switch load-balancing loss. */
import { defineOp, f32, i32, int, num } from './op_def.ts';

export const balance_loss = defineOp({
  kind: 'balance_loss',
  signature: { inputs: { probs: f32(2), demand: i32(1) }, outputs: { loss: f32(1) }, attrs: { alpha: num('α, the coefficient'), k: int('experts per token', 1) } },
  doc: {
    section: 'loss',
    math: '`probs [N, E], demand [E] → loss`, attrs `alpha`, `k`: `f_e = demand_e / (N·k)`, `P_e = mean_t probs[t, e]`, `loss = α·E·Σ_e f_e·P_e`.',
    backward: '`dprobs[t, e] += α·E·f_e / N`.',
  },
  infer: () => ({ loss: [1] }),
  verify: (op, shape) => (shape(op.inputs.demand)[0] !== shape(op.inputs.probs)[1] ? 'demand length differs from the expert count' : undefined),
  flops: (op, shape) => 2 * shape(op.inputs.probs)[0]! * shape(op.inputs.probs)[1]!,
});
