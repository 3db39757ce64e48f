/**
 * `decode_attention`: one new token per sequence attends to the key/value
 * cache of its sequence (sampling with a cache, `moec sample`). Forward only.
 */
import { defineOp, f32, i32, int, num } from './op_def.ts';

export const decode_attention = defineOp({
  kind: 'decode_attention',
  signature: {
    inputs: { qkv: f32(2, "the new tokens' fused q | k | v, one row per sequence"), positions: i32(1, "each new token's position in its sequence") },
    outputs: { y: f32(2), keys: f32(2, 'the key cache (state, kept between calls)'), values: f32(2, 'the value cache (state)') },
    attrs: {
      heads: int('attention heads', 1),
      context: int('cache length S per sequence', 1),
      rotary_base: num('rotation base of rotary positions; 0 = no rotation'),
    },
  },
  doc: {
    section: 'model',
    math: [
      '`qkv [B, 3d], positions [B] i32 → y [B, d]`; state `keys, values [B·S, d]`;',
      'attrs `heads`, `context = S`, `rotary_base`: for sequence b at position',
      '`p = positions[b]`, q and k are rotated as by `rotary` at position p',
      '(when `rotary_base > 0`), k and v are written to row `b·S + p` of the',
      'caches, and per head `y_b = Σ_{j ≤ p} softmax_j(q·keys[b·S+j] / sqrt(D)) values[b·S+j]`:',
      "the last row of `attention` over the sequence's first p + 1 tokens.",
    ].join('\n'),
  },
  infer: (op, shape) => {
    const [B, w] = shape(op.inputs.qkv) as [number, number];
    return { y: [B, w / 3], keys: [B * op.attrs.context, w / 3], values: [B * op.attrs.context, w / 3] };
  },
  verify: (op, shape) => {
    const [B, w] = shape(op.inputs.qkv) as [number, number];
    if (shape(op.inputs.positions)[0] !== B) return 'positions differ from the rows of qkv';
    if (w % (3 * op.attrs.heads) !== 0) return 'qkv width is not 3 × heads × head size';
    return op.attrs.rotary_base > 0 && (w / 3 / op.attrs.heads) % 2 !== 0 ? 'rotary positions need an even head size' : undefined;
  },
  // Per new token: the scores and the weighted sum over at most S cached rows.
  flops: (op, shape) => 2 * 2 * shape(op.inputs.qkv)[0]! * shape(op.outputs.y)[1]! * op.attrs.context,
});
