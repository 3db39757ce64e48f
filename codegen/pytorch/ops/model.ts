/**
 * PyTorch emitters of the dense model ops: embed, position_add, norm,
 * linear, rotary, attention, add, ffn (a dense FFN or summed shared
 * experts), activation and cross_entropy. Token counts are read at run time
 * (`N`, and `B` sequences of `S` tokens).
 */
import { baseActivation } from '../../wgsl/activations.ts';
import { pyNum, type PyTable } from '../py_op.ts';

/** `act(x)` of an ungated activation through the shared row math (model.py defines `act_NAME`). */
export function activationCall(activation: string, x: string, gate?: string): string {
  return gate !== undefined ? `act_silu(${gate}) * (${x})` : `act_${baseActivation(activation as never)}(${x})`;
}

/** The dense model ops' emitters. */
export const MODEL_PY: PyTable<'embed' | 'position_add' | 'norm' | 'linear' | 'rotary' | 'attention' | 'decode_attention' | 'add' | 'ffn' | 'activation' | 'cross_entropy'> = {
  embed: ({ op, v }) => [`${v(op.outputs.y)} = F.embedding(${v(op.inputs.ids)}, ${v(op.inputs.table)})`],

  position_add: ({ op, v }) => [`${v(op.outputs.y)} = ${v(op.inputs.x)} + ${v(op.inputs.table)}[torch.arange(N, device=${v(op.inputs.x)}.device) % S]`],

  norm: ({ op, v }) => {
    const x = v(op.inputs.x);
    const eps = pyNum(op.attrs.eps);
    const y = v(op.outputs.y);
    const kind: Record<typeof op.attrs.kind, string[]> = {
      rms: [`${y} = ${x} / torch.sqrt((${x} * ${x}).mean(-1, keepdim=True) + ${eps}) * ${v(op.inputs.weight)}`],
      layer: [
        `centred = ${x} - ${x}.mean(-1, keepdim=True)`,
        `${y} = centred / torch.sqrt((centred * centred).mean(-1, keepdim=True) + ${eps}) * ${v(op.inputs.weight)}${op.inputs.bias ? ` + ${v(op.inputs.bias)}` : ''}`,
      ],
    };
    return kind[op.attrs.kind];
  },

  linear: ({ op, v }) => [`${v(op.outputs.y)} = ${v(op.inputs.x)} @ ${v(op.inputs.weight)}.t()`],

  rotary: ({ op, v, dim }) => {
    const d = dim(op.inputs.x, 1) / 3;
    const D = d / op.attrs.heads;
    return [
      `# q and k: pairs (2i, 2i+1) of each head's ${D} columns turn by s·${op.attrs.base}^(−2i/${D}) at position s`,
      `qk = ${v(op.inputs.x)}[:, :${2 * d}].reshape(N, 2, ${op.attrs.heads}, ${D / 2}, 2)`,
      `inv = ${op.attrs.base} ** (-2.0 * torch.arange(${D / 2}, dtype=torch.float64) / ${D})`,
      'theta = (torch.arange(N) % S).double()[:, None] * inv[None, :]',
      'cos = torch.cos(theta).to(qk.dtype).to(qk.device)[:, None, None, :]',
      'sin = torch.sin(theta).to(qk.dtype).to(qk.device)[:, None, None, :]',
      'a, b = qk[..., 0], qk[..., 1]',
      'turned = torch.stack([a * cos - b * sin, a * sin + b * cos], -1)',
      `${v(op.outputs.y)} = torch.cat([turned.reshape(N, ${2 * d}), ${v(op.inputs.x)}[:, ${2 * d}:]], 1)`,
    ];
  },

  attention: ({ op, v, dim }) => {
    const d = dim(op.inputs.qkv, 1) / 3;
    const H = op.attrs.heads;
    const D = d / H;
    return [
      `q, k, w = ${v(op.inputs.qkv)}.reshape(B, S, 3, ${H}, ${D}).permute(2, 0, 3, 1, 4)`,
      `scores = (q @ k.transpose(-1, -2)) / ${pyNum(Math.sqrt(D))}`,
      'causal = torch.ones(S, S, dtype=torch.bool, device=scores.device).tril()',
      "scores = scores.masked_fill(~causal, float('-inf'))",
      `${v(op.outputs.y)} = (torch.softmax(scores, -1) @ w).permute(0, 2, 1, 3).reshape(N, ${d})`,
    ];
  },

  add: ({ op, v }) => [`${v(op.outputs.y)} = ${v(op.inputs.a)} + ${v(op.inputs.b)}`],

  ffn: ({ op, v }) => {
    // K FFNs summed (shared experts), or one (a dense FFN): up/gate [K, H, d], down [K, d, H].
    const up = `torch.einsum('nd,khd->nkh', ${v(op.inputs.x)}, ${v(op.inputs.up)})`;
    const gate = op.inputs.gate ? `torch.einsum('nd,khd->nkh', ${v(op.inputs.x)}, ${v(op.inputs.gate)})` : undefined;
    return [`hidden = ${activationCall(op.attrs.activation, up, gate)}`, `${v(op.outputs.y)} = torch.einsum('nkh,kdh->nd', hidden, ${v(op.inputs.down)})`];
  },

  activation: ({ op, v }) => [`${v(op.outputs.y)} = ${activationCall(op.attrs.activation, v(op.inputs.x), op.inputs.gate ? v(op.inputs.gate) : undefined)}`],

  cross_entropy: ({ op, v }) => [`${v(op.outputs.loss)} = F.cross_entropy(${v(op.inputs.logits)}, ${v(op.inputs.targets)}, reduction='sum') / N_all`],

  // The export writes whole-sequence models; its sampling runs them over the window (model.py has no cache).
  decode_attention: ({ op }) => {
    throw new Error(`internal: ${op.name}: decode graphs (moec sample's cache) are not exported`);
  },
};
