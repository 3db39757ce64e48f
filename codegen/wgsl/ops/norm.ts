/**
 * RMSNorm and LayerNorm kernels. The forward saves each row's inverse
 * standard deviation (and mean) for the backward pass.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import type { Kernel } from '../kernel.ts';
import { KernelWriter, f32, type KernelTable, type OpContext } from '../kernel_writer.ts';

type Pair = { forward: Kernel[]; backward: Kernel[] };

export function normKernels(ctx: OpContext<OpOf<'norm'>>): Pair {
  const { op } = ctx;
  const [N, d] = ctx.shape(op.inputs.x) as [number, number];
  // A Record over the kind's type: a norm kind without an entry here does not type-check.
  const layer = ({ rms: false, layer: true } satisfies Record<OpOf<'norm'>['attrs']['kind'], boolean>)[op.attrs.kind];
  // The verifier of `norm` guarantees a bias exactly for layer norm.
  const bias = op.inputs.bias;
  const eps = f32(op.attrs.eps);
  const x = ctx.tensor(op.inputs.x);
  const w = ctx.tensor(op.inputs.weight);
  const rstd = ctx.saved('rstd', N);
  const mean = layer ? ctx.saved('mean', N) : '';

  const fw = new KernelWriter(ctx, 'norm', 'forward');
  fw.bind('x', x, 'read');
  fw.bind('weight', w, 'read');
  if (bias) fw.bind('bias', ctx.tensor(bias), 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fw.bind('rstd', rstd, 'read_write');
  if (layer) fw.bind('mean', mean, 'read_write');
  fw.body('let t = i;', `let base = t * ${d}u;`);
  if (layer) {
    fw.body(
      'var mu = 0.0;',
      `for (var c = 0u; c < ${d}u; c++) { mu += x[base + c]; }`,
      `mu = mu / ${f32(d)};`,
      'var v = 0.0;',
      `for (var c = 0u; c < ${d}u; c++) { let z = x[base + c] - mu; v += z * z; }`,
      `let r = inverseSqrt(v / ${f32(d)} + ${eps});`,
      'mean[t] = mu;',
      'rstd[t] = r;',
      `for (var c = 0u; c < ${d}u; c++) { y[base + c] = (x[base + c] - mu) * r * weight[c] + bias[c]; }`,
    );
  } else {
    fw.body(
      'var ss = 0.0;',
      `for (var c = 0u; c < ${d}u; c++) { ss += x[base + c] * x[base + c]; }`,
      `let r = inverseSqrt(ss / ${f32(d)} + ${eps});`,
      'rstd[t] = r;',
      `for (var c = 0u; c < ${d}u; c++) { y[base + c] = x[base + c] * r * weight[c]; }`,
    );
  }
  const backward: Kernel[] = [];
  const dy = ctx.grad(op.outputs.y);
  // x̂ for row t, column c.
  const xhat = (at: string) => (layer ? `(x[${at}] - mean[t]) * rstd[t]` : `x[${at}] * rstd[t]`);
  if (ctx.needsGrad(op.inputs.x)) {
    const bw = new KernelWriter(ctx, 'norm_grad_input', 'backward');
    bw.bind('x', x, 'read');
    bw.bind('weight', w, 'read');
    bw.bind('rstd', rstd, 'read');
    if (layer) bw.bind('mean', mean, 'read');
    bw.bind('d_y', dy, 'read');
    bw.bind('d_x', ctx.grad(op.inputs.x), 'read_write');
    bw.body('let t = i;', `let base = t * ${d}u;`, 'var mg = 0.0;', 'var mgx = 0.0;');
    bw.body(`for (var c = 0u; c < ${d}u; c++) {`, '  let g = d_y[base + c] * weight[c];', '  mg += g;', `  mgx += g * ${xhat('base + c')};`, '}', `mg = mg / ${f32(d)};`, `mgx = mgx / ${f32(d)};`);
    if (layer) {
      bw.body(`for (var c = 0u; c < ${d}u; c++) { let g = d_y[base + c] * weight[c]; d_x[base + c] += rstd[t] * (g - mg - ${xhat('base + c')} * mgx); }`);
    } else {
      // rms: dx = r·g − x̂·mean(g·x̂)·r
      bw.body(`for (var c = 0u; c < ${d}u; c++) { let g = d_y[base + c] * weight[c]; d_x[base + c] += rstd[t] * (g - ${xhat('base + c')} * mgx); }`);
    }
    backward.push(bw.finish1d(N));
  }
  if (ctx.needsGrad(op.inputs.weight) || (bias !== undefined && ctx.needsGrad(bias))) {
    const bw = new KernelWriter(ctx, 'norm_grad_params', 'backward');
    bw.bind('x', x, 'read');
    bw.bind('rstd', rstd, 'read');
    if (layer) bw.bind('mean', mean, 'read');
    bw.bind('d_y', dy, 'read');
    bw.bind('d_weight', ctx.grad(op.inputs.weight), 'read_write');
    if (bias) bw.bind('d_bias', ctx.grad(bias), 'read_write');
    bw.body('let c = i;', 'var gw = 0.0;', 'var gb = 0.0;', `for (var t = 0u; t < ${N}u; t++) {`, `  let at = t * ${d}u + c;`, `  gw += d_y[at] * ${xhat('at')};`, '  gb += d_y[at];', '}', 'd_weight[c] += gw;');
    if (layer) bw.body('d_bias[c] += gb;');
    backward.push(bw.finish1d(d));
  }
  return { forward: [fw.finish1d(N)], backward };
}

/** The kernel generators of this file's op kinds. */
export const NORM_KERNELS: KernelTable<'norm'> = {
  norm: normKernels,
};
