/** `lora_linear`: MoLoRA, a frozen linear plus a gate-weighted sum of low-rank experts. */
import { defineOp, f32, i32, num } from './op_def.ts';

export const lora_linear = defineOp({
  kind: 'lora_linear',
  signature: {
    inputs: { x: f32(2), weight: f32(2), lora_a: f32(3), lora_b: f32(3), token_expert: i32(2), token_gate: f32(2) },
    outputs: { y: f32(2) },
    attrs: { scale: num('α / r') },
  },
  doc: {
    section: 'moe',
    math: [
      '`x [N, I], weight [O, I] (frozen), lora_a [E, r, I], lora_b [E, O, r], token_expert, token_gate → y [N, O]`,',
      'attr `scale = α/r`: `u_j = lora_a[e_j] · x[t]` (r values),',
      '`y[t] = weight·x[t] + scale · Σ_{j: e_j ≥ 0} token_gate[t, j] · lora_b[e_j] · u_j`.',
    ].join('\n'),
    backward: [
      '`dx += dy·weight + scale Σ_j g_j · lora_a[e_j]ᵀ (lora_b[e_j]ᵀ dy)`;',
      '`dlora_b[e_j] += scale·g_j·dy ⊗ u_j`; `dlora_a[e_j] += scale·g_j·(lora_b[e_j]ᵀ dy) ⊗ x`;',
      '`dtoken_gate[t, j] += scale · dy · (lora_b[e_j] u_j)`.',
    ].join('\n'),
  },
  infer: (op, shape) => ({ y: [shape(op.inputs.x)[0]!, shape(op.inputs.weight)[0]!] }),
  verify: (op, shape) => {
    const [O, I] = shape(op.inputs.weight) as [number, number];
    const [E, r] = shape(op.inputs.lora_a) as [number, number];
    if (I !== shape(op.inputs.x)[1] || shape(op.inputs.lora_a)[2] !== I) return 'weight and lora_a do not take the width of x';
    return shape(op.inputs.lora_b).join() !== [E, O, r].join() ? 'lora_b is not [experts, out, rank]' : undefined;
  },
  flops: (op, shape) => {
    const N = shape(op.inputs.x)[0]!;
    const k = shape(op.inputs.token_expert)[1]!;
    const r = shape(op.inputs.lora_a)[1]!;
    const inp = shape(op.inputs.x)[1]!;
    const out = shape(op.inputs.weight)[0]!;
    return 2 * N * inp * out + 2 * N * k * r * (inp + out);
  },
});
