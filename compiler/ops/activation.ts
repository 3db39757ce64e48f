/** `activation`: an elementwise activation (MoV/MoLoRA lower their FFN to small ops). */
import { ACTIVATIONS } from '../schema.ts';
import { defineOp, f32, oneOf, optional } from './op_def.ts';

export const activation = defineOp({
  kind: 'activation',
  signature: { inputs: { x: f32(2), gate: optional(f32(2), 'swiglu only') }, outputs: { y: f32(2) }, attrs: { activation: oneOf(ACTIVATIONS, 'act') } },
  doc: { section: 'moe', math: '`x, (gate) → y`, attr `activation`: `y = act(x)`; swiglu: `y = silu(gate) ⊙ x`.', backward: 'the derivative of `act` from the table above, times `dy`.' },
  infer: (op, shape) => ({ y: shape(op.inputs.x) }),
  verify: (op, shape) =>
    (op.attrs.activation === 'swiglu') !== !!op.inputs.gate ? 'a gate exactly when the activation is swiglu' : op.inputs.gate && shape(op.inputs.gate).join() !== shape(op.inputs.x).join() ? 'gate and x differ in shape' : undefined,
  flops: (op, shape) => 8 * shape(op.inputs.x)[0]! * shape(op.inputs.x)[1]!,
});
