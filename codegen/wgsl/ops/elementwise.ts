/**
 * Kernels of the element-wise and lookup ops: embed, position_add, add,
 * activation and ia3_scale. Reductions in their backward kernels (embedding
 * and position gradients, IA3 scale gradients) give each output element one
 * thread that sums in a fixed order.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import { baseActivation } from '../activations.ts';
import { wgslHelpers } from '../../rowmath/functions.ts';
import type { Kernel } from '../kernel.ts';
import { KernelWriter, type KernelTable, type OpContext } from '../kernel_writer.ts';
import { divU, loopU, mulU } from '../wgsl_fold.ts';

type Pair = { forward: Kernel[]; backward: Kernel[] };

export function embedKernels(ctx: OpContext<OpOf<'embed'>>): Pair {
  const { op } = ctx;
  const N = ctx.shape(op.inputs.ids)[0]!;
  const [V, d] = ctx.shape(op.inputs.table) as [number, number];
  const ids = ctx.tensor(op.inputs.ids);
  const fw = new KernelWriter(ctx, 'embed', 'forward');
  fw.bind('ids', ids, 'read', 'i32');
  fw.bind('table', ctx.tensor(op.inputs.table), 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fw.body(`let t = i / ${d}u;`, `let c = i % ${d}u;`, `y[i] = table[u32(clamp(ids[t], 0, ${V - 1})) * ${d}u + c];`);
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.table)) {
    const bw = new KernelWriter(ctx, 'embed_grad_table', 'backward');
    bw.bind('ids', ids, 'read', 'i32');
    bw.bind('d_y', ctx.grad(op.outputs.y), 'read');
    bw.bind('d_table', ctx.grad(op.inputs.table), 'read_write');
    // One thread per table element, scanning tokens in order: deterministic without atomics.
    bw.body(`let v = i32(i / ${d}u);`, `let c = i % ${d}u;`, 'var sum = 0.0;', `for (var t = 0u; t < ${N}u; t++) { if (ids[t] == v) { sum += d_y[t * ${d}u + c]; } }`, 'd_table[i] += sum;');
    backward.push(bw.finish1d(V * d));
  }
  return { forward: [fw.finish1d(N * d)], backward };
}

export function positionAddKernels(ctx: OpContext<OpOf<'position_add'>>): Pair {
  const { op } = ctx;
  const [N, d] = ctx.shape(op.inputs.x) as [number, number];
  const seq = op.attrs.seq;
  const fw = new KernelWriter(ctx, 'position_add', 'forward');
  fw.bind('x', ctx.tensor(op.inputs.x), 'read');
  fw.bind('table', ctx.tensor(op.inputs.table), 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fw.body(`let t = i / ${d}u;`, `let c = i % ${d}u;`, `y[i] = x[i] + table[(t % ${seq}u) * ${d}u + c];`);
  const backward: Kernel[] = [];
  const dy = ctx.grad(op.outputs.y);
  if (ctx.needsGrad(op.inputs.x)) backward.push(accumulate(ctx, 'position_grad_input', dy, ctx.grad(op.inputs.x), N * d));
  if (ctx.needsGrad(op.inputs.table)) {
    const bw = new KernelWriter(ctx, 'position_grad_table', 'backward');
    bw.bind('d_y', dy, 'read');
    bw.bind('d_table', ctx.grad(op.inputs.table), 'read_write');
    bw.body(`let s = i / ${d}u;`, `let c = i % ${d}u;`, 'var sum = 0.0;', `for (var b = 0u; b < ${N / seq}u; b++) { sum += d_y[(b * ${seq}u + s) * ${d}u + c]; }`, 'd_table[i] += sum;');
    backward.push(bw.finish1d(seq * d));
  }
  return { forward: [fw.finish1d(N * d)], backward };
}

/** d_to[i] += d_from[i]. */
function accumulate(ctx: OpContext, template: string, from: string, to: string, n: number): Kernel {
  const w = new KernelWriter(ctx, template, 'backward');
  w.bind('d_y', from, 'read');
  w.bind('d_x', to, 'read_write');
  w.body('d_x[i] += d_y[i];');
  return w.finish1d(n);
}

export function addKernels(ctx: OpContext<OpOf<'add'>>): Pair {
  const { op } = ctx;
  const shape = ctx.shape(op.inputs.a);
  const n = shape.reduce((p, q) => p * q, 1);
  const fw = new KernelWriter(ctx, 'add', 'forward');
  fw.bind('a', ctx.tensor(op.inputs.a), 'read');
  fw.bind('b', ctx.tensor(op.inputs.b), 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fw.body('y[i] = a[i] + b[i];');
  const dy = ctx.grad(op.outputs.y);
  const wants = (['a', 'b'] as const).filter((k) => ctx.needsGrad(op.inputs[k]!));
  const backward: Kernel[] = [];
  if (wants.length) {
    const bw = new KernelWriter(ctx, 'add_backward', 'backward');
    bw.bind('d_y', dy, 'read');
    for (const k of wants) bw.bind(`d_${k}`, ctx.grad(op.inputs[k]!), 'read_write');
    bw.body(...wants.map((k) => `d_${k}[i] += d_y[i];`));
    backward.push(bw.finish1d(n));
  }
  return { forward: [fw.finish1d(n)], backward };
}

export function activationKernels(ctx: OpContext<OpOf<'activation'>>): Pair {
  const { op } = ctx;
  const n = ctx.shape(op.inputs.x).reduce((p, q) => p * q, 1);
  const a = op.attrs.activation;
  const gate = op.inputs.gate;
  const gated = gate !== undefined;
  const f = baseActivation(a);
  const fw = new KernelWriter(ctx, 'activation', 'forward');
  fw.bind('x', ctx.tensor(op.inputs.x), 'read');
  if (gate) fw.bind('gate', ctx.tensor(gate), 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fw.declare(wgslHelpers(`act_${f}`));
  fw.body(gated ? 'y[i] = act_silu(gate[i]) * x[i];' : `y[i] = act_${f}(x[i]);`);
  const bw = new KernelWriter(ctx, 'activation_backward', 'backward');
  bw.bind('x', ctx.tensor(op.inputs.x), 'read');
  if (gate) bw.bind('gate', ctx.tensor(gate), 'read');
  bw.bind('d_y', ctx.grad(op.outputs.y), 'read');
  const wantX = ctx.needsGrad(op.inputs.x);
  const wantGate = gate !== undefined && ctx.needsGrad(gate);
  if (wantX) bw.bind('d_x', ctx.grad(op.inputs.x), 'read_write');
  if (gate && wantGate) bw.bind('d_gate', ctx.grad(gate), 'read_write');
  bw.declare(gated ? wgslHelpers(...(wantX ? ['act_silu'] : []), ...(wantGate ? ['dact_silu'] : [])) : wgslHelpers(`dact_${f}`));
  if (gated) {
    if (wantX) bw.body('d_x[i] += d_y[i] * act_silu(gate[i]);');
    if (wantGate) bw.body('d_gate[i] += d_y[i] * x[i] * dact_silu(gate[i]);');
  } else if (wantX) {
    bw.body(`d_x[i] += d_y[i] * dact_${f}(x[i]);`);
  }
  return { forward: [fw.finish1d(n)], backward: wantX || wantGate ? [bw.finish1d(n)] : [] };
}

/** `ia3_scale`: y[t] = x[t] ⊙ Σ_j gate[t,j] · scale[expert[t,j]]. */
export function ia3Kernels(ctx: OpContext<OpOf<'ia3_scale'>>): Pair {
  const { op } = ctx;
  const [N, H] = ctx.shape(op.inputs.x) as [number, number];
  const E = ctx.shape(op.inputs.scale)[0]!;
  const K = ctx.shape(op.inputs.token_expert)[1]!;
  const x = ctx.tensor(op.inputs.x);
  const scale = ctx.tensor(op.inputs.scale);
  const te = ctx.tensor(op.inputs.token_expert);
  const tg = ctx.tensor(op.inputs.token_gate);
  const mixFn = [
    'fn mixed_scale(t: u32, h: u32) -> f32 {',
    '  var m = 0.0;',
    `  ${loopU('j', K)}`,
    `    let e = token_expert[${mulU('t', K)} + j];`,
    `    if (e >= 0) { m = fma(token_gate[${mulU('t', K)} + j], scale[u32(e) * ${H}u + h], m); }`,
    '  }',
    '  return m;',
    '}',
  ].join('\n');
  const bindRouting = (w: KernelWriter) => {
    w.bind('token_expert', te, 'read', 'i32');
    w.bind('token_gate', tg, 'read');
  };
  const fw = new KernelWriter(ctx, 'ia3_scale', 'forward');
  fw.bind('x', x, 'read');
  fw.bind('scale', scale, 'read');
  bindRouting(fw);
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fw.declare(mixFn);
  fw.body(`y[i] = x[i] * mixed_scale(i / ${H}u, i % ${H}u);`);
  const backward: Kernel[] = [];
  const dy = ctx.grad(op.outputs.y);
  if (ctx.needsGrad(op.inputs.x)) {
    const w = new KernelWriter(ctx, 'ia3_grad_input', 'backward');
    w.bind('scale', scale, 'read');
    bindRouting(w);
    w.bind('d_y', dy, 'read');
    w.bind('d_x', ctx.grad(op.inputs.x), 'read_write');
    w.declare(mixFn);
    w.body(`d_x[i] += d_y[i] * mixed_scale(i / ${H}u, i % ${H}u);`);
    backward.push(w.finish1d(N * H));
  }
  if (ctx.needsGrad(op.inputs.token_gate)) {
    const w = new KernelWriter(ctx, 'ia3_grad_gate', 'backward');
    w.bind('x', x, 'read');
    w.bind('scale', scale, 'read');
    w.bind('token_expert', te, 'read', 'i32');
    w.bind('d_y', dy, 'read');
    w.bind('d_gate', ctx.grad(op.inputs.token_gate), 'read_write');
    w.body(`let t = ${divU('i', K)};`, 'let e = token_expert[i];', 'if (e < 0) { return; }', 'var acc = 0.0;', `for (var h = 0u; h < ${H}u; h++) { acc = fma(scale[u32(e) * ${H}u + h], d_y[t * ${H}u + h] * x[t * ${H}u + h], acc); }`, 'd_gate[i] += acc;');
    backward.push(w.finish1d(N * K));
  }
  if (ctx.needsGrad(op.inputs.scale)) {
    const w = new KernelWriter(ctx, 'ia3_grad_scale', 'backward');
    w.bind('x', x, 'read');
    bindRouting(w);
    w.bind('d_y', dy, 'read');
    w.bind('d_scale', ctx.grad(op.inputs.scale), 'read_write');
    w.body(
      `let e = i32(i / ${H}u);`,
      `let h = i % ${H}u;`,
      'var acc = 0.0;',
      `for (var t = 0u; t < ${N}u; t++) {`,
      `  ${loopU('j', K)}`,
      `    if (token_expert[${mulU('t', K)} + j] == e) { acc = fma(token_gate[${mulU('t', K)} + j], d_y[t * ${H}u + h] * x[t * ${H}u + h], acc); }`,
      '  }',
      '}',
      'd_scale[i] += acc;',
    );
    backward.push(w.finish1d(E * H));
  }
  return { forward: [fw.finish1d(N * H)], backward };
}

/** The kernel generators of this file's op kinds. */
export const ELEMENTWISE_KERNELS: KernelTable<'embed' | 'position_add' | 'add' | 'activation' | 'ia3_scale'> = {
  embed: embedKernels,
  position_add: positionAddKernels,
  add: addKernels,
  activation: activationKernels,
  ia3_scale: ia3Kernels,
};
