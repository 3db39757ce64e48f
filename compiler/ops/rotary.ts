/** `rotary`: rotary position embedding of the q and k parts of a fused qkv. */
import { defineOp, f32, int, num } from './op_def.ts';

export const rotary = defineOp({
  kind: 'rotary',
  signature: {
    inputs: { x: f32(2) },
    outputs: { y: f32(2) },
    attrs: { heads: int('attention heads', 1), seq: int('sequence length S', 1), base: num('rotation base') },
  },
  doc: {
    section: 'model',
    math: [
      '`x [N, 3d] (q | k | v) → y`, attrs `heads`, `seq`, `base`:',
      "with head size `D = d/heads`, for q and k of every head, each pair",
      "`(2i, 2i+1)` of the head's slice at position `s = t mod seq` is rotated by",
      '`θ = s · base^(−2i/D)`: `(a, b) → (a cosθ − b sinθ, a sinθ + b cosθ)`.',
      'v is copied.',
    ].join('\n'),
    backward: 'rotate `dy` by `−θ`, add to `dx`.',
  },
  infer: (op, shape) => ({ y: shape(op.inputs.x) }),
  verify: (op, shape) => (shape(op.inputs.x)[1]! % (6 * op.attrs.heads) !== 0 ? 'qkv width is not 3 × heads × an even head size' : undefined),
  flops: (op, shape) => 6 * shape(op.inputs.x)[0]! * shape(op.inputs.x)[1]!,
});
