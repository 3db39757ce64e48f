/** `norm`: RMSNorm or LayerNorm over the last axis. */
import { defineOp, f32, num, oneOf, optional } from './op_def.ts';

export const norm = defineOp({
  kind: 'norm',
  signature: {
    inputs: { x: f32(2), weight: f32(1), bias: optional(f32(1), 'layer norm only') },
    outputs: { y: f32(2) },
    attrs: { kind: oneOf(['rms', 'layer'], 'which normalisation'), eps: num('added to the variance') },
  },
  doc: {
    section: 'model',
    math: [
      '`x [N, d], weight [d], (bias [d]) → y`, attrs `kind`, `eps`:',
      '- rms: `r = 1/sqrt(mean_j x_j² + eps)`, `y = x·r·w`. Backward:',
      '  `g = dy ⊙ w`; `dx += r·g − x·r³·mean_j(g_j·x_j)`; `dw += Σ_t dy·x·r`.',
      '- layer: `μ = mean x`, `v = mean (x−μ)²`, `r = 1/sqrt(v + eps)`,',
      '  `x̂ = (x−μ)·r`, `y = x̂·w + b`. Backward: `g = dy ⊙ w`;',
      '  `dx += r·(g − mean(g) − x̂·mean(g ⊙ x̂))`; `dw += Σ_t dy·x̂`; `db += Σ_t dy`.',
    ].join('\n'),
  },
  infer: (op, shape) => ({ y: shape(op.inputs.x) }),
  verify: (op, shape) => {
    const d = shape(op.inputs.x)[1];
    if (shape(op.inputs.weight)[0] !== d || (op.inputs.bias && shape(op.inputs.bias)[0] !== d)) return 'weight or bias length differs from the width of x';
    if ((op.attrs.kind === 'layer') !== !!op.inputs.bias) return 'layer norm has a bias, rms norm none';
    return undefined;
  },
  flops: (op, shape) => 6 * shape(op.inputs.x)[0]! * shape(op.inputs.x)[1]!,
});
