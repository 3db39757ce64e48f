/** `ffn`: K dense FFNs applied to every token and summed (a dense FFN is K = 1; shared experts K = `shared`). */
import { ACTIVATIONS } from '../schema.ts';
import { defineOp, f32, int, oneOf, optional } from './op_def.ts';

/** Forward FLOPs of `tokens` rows through an FFN of width d and hidden h (gated: three products). */
export function ffnFlops(tokens: number, d: number, h: number, gated: boolean): number {
  return tokens * 2 * d * h * (gated ? 3 : 2);
}

export const ffn = defineOp({
  kind: 'ffn',
  signature: {
    inputs: { x: f32(2), up: f32(3), gate: optional(f32(3), 'swiglu only'), down: f32(3) },
    outputs: { y: f32(2) },
    attrs: { activation: oneOf(ACTIVATIONS, 'act of the hidden layer'), experts: int('K, the FFNs summed', 1) },
  },
  doc: {
    section: 'model',
    math: [
      '`x [N, d], up [K, H, d], (gate [K, H, d]), down [K, d, H] → y [N, d]`,',
      'attrs `activation`, `experts = K`: `y = Σ_k down_k · act(up_k · x)`',
      '(swiglu: `act = silu(gate_k·x) ⊙ up_k·x`). A dense FFN is K = 1; shared',
      'experts are K = `shared`.',
    ].join('\n'),
    backward: 'the chain rule through both products and the activation; weight gradients `dup_k += d(pre_k)ᵀ x`, `ddown_k += dyᵀ h_k`.',
  },
  infer: (op, shape) => ({ y: shape(op.inputs.x) }),
  verify: (op, shape) => {
    const [K, H, d] = shape(op.inputs.up) as [number, number, number];
    if (K !== op.attrs.experts || d !== shape(op.inputs.x)[1]) return 'up is not [experts, hidden, width]';
    if (shape(op.inputs.down).join() !== [K, d, H].join()) return 'down is not [experts, width, hidden]';
    if ((op.attrs.activation === 'swiglu') !== !!op.inputs.gate) return 'a gate weight exactly when the activation is swiglu';
    return undefined;
  },
  flops: (op, shape) => ffnFlops(shape(op.inputs.x)[0]!, shape(op.inputs.x)[1]!, shape(op.inputs.up)[1]! * op.attrs.experts, !!op.inputs.gate),
});
