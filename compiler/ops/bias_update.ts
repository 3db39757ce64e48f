/** `bias_update`: loss-free balancing, run after each optimizer step (a state update, never differentiated). */
import { defineOp, f32, i32, int, num } from './op_def.ts';

export const bias_update = defineOp({
  kind: 'bias_update',
  signature: { inputs: { demand: i32(1) }, outputs: { bias: f32(1) }, attrs: { rate: num('γ, the step of the bias'), k: int('experts per token', 1) } },
  doc: { section: 'update', math: '`demand [E] → bias [E]` (state), attr `rate = γ`: `bias_e += γ · sign(mean(demand) − demand_e)`.' },
  infer: (op, shape) => ({ bias: shape(op.inputs.demand) }),
  flops: () => 0,
});
