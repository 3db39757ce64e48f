/**
 * Kernels that move values between tokens and expert rows: combine (gather
 * each token's k results), and the mixing path of Mixture of Tokens / Soft
 * MoE (mix weights, mix, unmix). Every output element is written by exactly
 * one thread that sums in a fixed order: no float atomics, bit-reproducible.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import type { Kernel } from '../kernel.ts';
import { KernelWriter, columnsPerThread, dotInOrder, type KernelTable, type OpContext } from '../kernel_writer.ts';
import { divU, group, loopU, modU, mulU, plusU } from '../wgsl_fold.ts';
import { SOFTMAX, SOFTMAX_BACKWARD, wgslMap, wgslReductions } from '../../rowmath/rows.ts';

type Pair = { forward: Kernel[]; backward: Kernel[] };

/** `combine`: y[t] = Σ_j gate[t,j] · out[slot[t,j]] (gate 1 when the gates went to the experts' inputs). */
export function combineKernels(ctx: OpContext<OpOf<'combine'>>): Pair {
  const { op } = ctx;
  const [N, K] = ctx.shape(op.inputs.token_slot) as [number, number];
  const d = ctx.shape(op.inputs.expert_out)[1]!;
  const out = ctx.tensor(op.inputs.expert_out);
  const slot = ctx.tensor(op.inputs.token_slot);
  const gate = op.inputs.token_gate === undefined ? undefined : ctx.tensor(op.inputs.token_gate);
  const { ty, dv, splat } = columnsPerThread(ctx.target, d);
  const fw = new KernelWriter(ctx, 'combine', 'forward');
  fw.bind('expert_out', out, 'read', ty);
  fw.bind('token_slot', slot, 'read', 'i32');
  if (gate) fw.bind('token_gate', gate, 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write', ty);
  const row = `expert_out[u32(row) * ${dv}u + c]`;
  fw.body(
    `let t = i / ${dv}u;`,
    `let c = i % ${dv}u;`,
    `var sum = ${splat('0.0')};`,
    `${loopU('j', K)}`,
    `  let row = token_slot[${mulU('t', K)} + j];`,
    `  if (row >= 0) { ${gate ? `sum = fma(${splat(`token_gate[${mulU('t', K)} + j]`)}, ${row}, sum);` : `sum += ${row};`} }`,
    '}',
    'y[i] = sum;',
  );
  const backward: Kernel[] = [];
  const dy = ctx.grad(op.outputs.y);
  if (ctx.needsGrad(op.inputs.expert_out)) {
    // Each used row belongs to exactly one (t, j): one writer per element.
    const g = new KernelWriter(ctx, 'combine_grad_out', 'backward');
    g.bind('token_slot', slot, 'read', 'i32');
    if (gate) g.bind('token_gate', gate, 'read');
    g.bind('d_y', dy, 'read', ty);
    g.bind('d_expert_out', ctx.grad(op.inputs.expert_out), 'read_write', ty);
    g.body(
      `let tj = i / ${dv}u;`,
      `let c = i % ${dv}u;`,
      'let row = token_slot[tj];',
      `if (row >= 0) { d_expert_out[u32(row) * ${dv}u + c] += ${gate ? `${splat('token_gate[tj]')} * ` : ''}d_y[${group(divU('tj', K))} * ${dv}u + c]; }`,
    );
    backward.push(g.finish1d(N * K * dv));
  }
  if (gate && op.inputs.token_gate && ctx.needsGrad(op.inputs.token_gate)) {
    const g = new KernelWriter(ctx, 'combine_grad_gate', 'backward');
    const dot = dotInOrder(ctx.target, d);
    g.bind('expert_out', out, 'read', dot.ty);
    g.bind('token_slot', slot, 'read', 'i32');
    g.bind('d_y', dy, 'read', dot.ty);
    g.bind('d_gate', ctx.grad(op.inputs.token_gate), 'read_write');
    g.body(
      `let t = ${divU('i', K)};`,
      'let row = token_slot[i];',
      'if (row < 0) { return; }',
      'var dotp = 0.0;',
      `for (var c = 0u; c < ${dot.dv}u; c++) { ${dot.step(`d_y[t * ${dot.dv}u + c]`, `expert_out[u32(row) * ${dot.dv}u + c]`)} }`,
      'd_gate[i] += dotp;',
    );
    backward.push(g.finish1d(N * K));
  }
  return { forward: [fw.finish1d(N * dv)], backward };
}

/** `scale_rows`: y[t] = scale[t]·x[t]. */
export function scaleRowsKernels(ctx: OpContext<OpOf<'scale_rows'>>): Pair {
  const { op } = ctx;
  const [N, d] = ctx.shape(op.inputs.x) as [number, number];
  const x = ctx.tensor(op.inputs.x);
  const scale = ctx.tensor(op.inputs.scale);
  const { ty, dv, splat } = columnsPerThread(ctx.target, d);
  const fw = new KernelWriter(ctx, 'scale_rows', 'forward');
  fw.bind('x', x, 'read', ty);
  fw.bind('scale', scale, 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write', ty);
  fw.body(`y[i] = ${splat(`scale[i / ${dv}u]`)} * x[i];`);
  const backward: Kernel[] = [];
  const dy = ctx.grad(op.outputs.y);
  if (ctx.needsGrad(op.inputs.x)) {
    const g = new KernelWriter(ctx, 'scale_rows_grad_input', 'backward');
    g.bind('scale', scale, 'read');
    g.bind('d_y', dy, 'read', ty);
    g.bind('d_x', ctx.grad(op.inputs.x), 'read_write', ty);
    g.body(`d_x[i] += ${splat(`scale[i / ${dv}u]`)} * d_y[i];`);
    backward.push(g.finish1d(N * dv));
  }
  if (ctx.needsGrad(op.inputs.scale)) {
    // One thread per row: the row's dot product in column order.
    const g = new KernelWriter(ctx, 'scale_rows_grad_scale', 'backward');
    const dot = dotInOrder(ctx.target, d);
    g.bind('x', x, 'read', dot.ty);
    g.bind('d_y', dy, 'read', dot.ty);
    g.bind('d_scale', ctx.grad(op.inputs.scale), 'read_write');
    g.body('var dotp = 0.0;', `for (var c = 0u; c < ${dot.dv}u; c++) { ${dot.step(`d_y[i * ${dot.dv}u + c]`, `x[i * ${dot.dv}u + c]`)} }`, 'd_scale[i] += dotp;');
    backward.push(g.finish1d(N));
  }
  return { forward: [fw.finish1d(N * dv)], backward };
}

/** Group geometry of a mixing router, as WGSL helper functions. */
function groupFns(ctx: OpContext<OpOf<'mix_weights'> | OpOf<'mix'> | OpOf<'unmix'>>): { decl: string; members: number; groups: number } {
  const { group: G, seq, groups } = ctx.op.attrs;
  if (G > 0) {
    // Mixture of Tokens: group g = (b div G)·seq + s holds position s of G consecutive sequences.
    return {
      members: G,
      groups,
      decl: [
        `fn member(g: u32, m: u32) -> u32 { return ((g / ${seq}u) * ${G}u + m) * ${seq}u + g % ${seq}u; }`,
        `fn group_of(u: u32) -> u32 { return ((u / ${seq}u) / ${G}u) * ${seq}u + u % ${seq}u; }`,
      ].join('\n'),
    };
  }
  // Soft MoE: one group per sequence.
  return {
    members: seq,
    groups,
    decl: [`fn member(g: u32, m: u32) -> u32 { return g * ${seq}u + m; }`, `fn group_of(u: u32) -> u32 { return u / ${seq}u; }`].join('\n'),
  };
}

/** Row of slot s (= e·p + j) of group g in the expert buffer: e·(groups·p) + g·p + j. */
function rowFn(groups: number, p: number): string {
  return `fn slot_row(s: u32, g: u32) -> u32 { return ${plusU(plusU(mulU(group(divU('s', p)), groups * p), mulU('g', p)), modU('s', p))}; }`;
}

/** `mix_weights`: dispatch = softmax over each group's tokens; combine = dispatch or softmax over slots. */
export function mixWeightsKernels(ctx: OpContext<OpOf<'mix_weights'>>): Pair {
  const { op } = ctx;
  const [N, S] = ctx.shape(op.inputs.logits) as [number, number];
  const { decl, members, groups } = groupFns(ctx);
  const slotSoftmax = ({ dispatch: false, slot_softmax: true } satisfies Record<OpOf<'mix_weights'>['attrs']['unmix'], boolean>)[op.attrs.unmix];
  const logits = ctx.tensor(op.inputs.logits);
  const dispatch = ctx.tensor(op.outputs.dispatch);
  const combineW = ctx.tensor(op.outputs.combine_weights);

  const fd = new KernelWriter(ctx, 'mix_weights', 'forward');
  fd.bind('logits', logits, 'read');
  fd.bind('dispatch', dispatch, 'read_write');
  if (!slotSoftmax) fd.bind('combine_weights', combineW, 'read_write');
  fd.declare(decl);
  // The softmax row program both backends render (codegen/rowmath/rows.ts), over the group's members.
  const memberLogit = (_row: string, m: string) => `logits[member(g, ${m}) * ${S}u + s]`;
  fd.body(
    `let g = i / ${S}u;`,
    `let s = i % ${S}u;`,
    ...wgslReductions(SOFTMAX, members, memberLogit, '', 'm'),
    `for (var m = 0u; m < ${members}u; m++) {`,
    `  let at = member(g, m) * ${S}u + s;`,
    `  let w = ${wgslMap(SOFTMAX, 'at', () => 'logits[at]')};`,
    '  dispatch[at] = w;',
    ...(slotSoftmax ? [] : ['  combine_weights[at] = w;']),
    '}',
  );
  const forward = [fd.finish1d(groups * S)];
  if (slotSoftmax) {
    const fc = new KernelWriter(ctx, 'mix_slot_softmax', 'forward');
    fc.bind('logits', logits, 'read');
    fc.bind('combine_weights', combineW, 'read_write');
    const slotLogit = (_row: string, s: string) => `logits[u * ${S}u + ${s}]`;
    fc.body('let u = i;', ...wgslReductions(SOFTMAX, S, slotLogit), `for (var s = 0u; s < ${S}u; s++) { combine_weights[u * ${S}u + s] = ${wgslMap(SOFTMAX, 's', slotLogit)}; }`);
    forward.push(fc.finish1d(N));
  }

  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.logits)) {
    // Softmax over a group's tokens; with dispatch unmixing the combine weights are the same tensor, so their gradients add.
    const bd = new KernelWriter(ctx, 'mix_weights_backward', 'backward');
    bd.bind('dispatch', dispatch, 'read');
    bd.bind('d_dispatch', ctx.grad(op.outputs.dispatch), 'read');
    if (!slotSoftmax) bd.bind('d_combine', ctx.grad(op.outputs.combine_weights), 'read');
    bd.bind('d_logits', ctx.grad(op.inputs.logits), 'read_write');
    bd.declare(decl);
    const dw = (at: string) => (slotSoftmax ? `d_dispatch[${at}]` : `(d_dispatch[${at}] + d_combine[${at}])`);
    // The softmax backward row program: p = dispatch, dp = its gradient (both uses, when they are one tensor).
    const rowAt = (at: string) => (row: string) => (row === 'p' ? `dispatch[${at}]` : dw(at));
    bd.body(
      `let g = i / ${S}u;`,
      `let s = i % ${S}u;`,
      ...wgslReductions(SOFTMAX_BACKWARD, members, (row, m) => rowAt(`member(g, ${m}) * ${S}u + s`)(row), '', 'm'),
      `for (var m = 0u; m < ${members}u; m++) { let at = member(g, m) * ${S}u + s; d_logits[at] += ${wgslMap(SOFTMAX_BACKWARD, 'at', (row) => rowAt('at')(row))}; }`,
    );
    backward.push(bd.finish1d(groups * S));
    if (slotSoftmax) {
      const bc = new KernelWriter(ctx, 'mix_slot_softmax_backward', 'backward');
      bc.bind('combine_weights', combineW, 'read');
      bc.bind('d_combine', ctx.grad(op.outputs.combine_weights), 'read');
      bc.bind('d_logits', ctx.grad(op.inputs.logits), 'read_write');
      const slotRow = (row: string, at: string) => `${row === 'p' ? 'combine_weights' : 'd_combine'}[${at}]`;
      bc.body(
        'let u = i;',
        ...wgslReductions(SOFTMAX_BACKWARD, S, (row, s) => slotRow(row, `u * ${S}u + ${s}`)),
        `for (var s = 0u; s < ${S}u; s++) { let at = u * ${S}u + s; d_logits[at] += ${wgslMap(SOFTMAX_BACKWARD, 'at', (row) => slotRow(row, 'at'))}; }`,
      );
      backward.push(bc.finish1d(N));
    }
  }
  return { forward, backward };
}

/** `mix`: slots_in[row(s, g)] = Σ_{u in g} dispatch[u, s] · x[u]. */
export function mixKernels(ctx: OpContext<OpOf<'mix'>>): Pair {
  const { op } = ctx;
  const [N, d] = ctx.shape(op.inputs.x) as [number, number];
  const S = ctx.shape(op.inputs.dispatch)[1]!;
  const p = op.attrs.slots;
  const { decl, members, groups } = groupFns(ctx);
  const x = ctx.tensor(op.inputs.x);
  const dispatch = ctx.tensor(op.inputs.dispatch);
  const { ty, dv, splat } = columnsPerThread(ctx.target, d);
  const fw = new KernelWriter(ctx, 'mix', 'forward');
  fw.bind('x', x, 'read', ty);
  fw.bind('dispatch', dispatch, 'read');
  fw.bind('slots_in', ctx.tensor(op.outputs.slots_in), 'read_write', ty);
  fw.declare(decl, rowFn(groups, p));
  // Thread per (slot, group, column group); rows are written in slot_row order.
  fw.body(
    `let c = i % ${dv}u;`,
    `let gs = i / ${dv}u;`,
    `let g = gs % ${groups}u;`,
    `let s = gs / ${groups}u;`,
    `var sum = ${splat('0.0')};`,
    `for (var m = 0u; m < ${members}u; m++) { let u = member(g, m); sum = fma(${splat(`dispatch[u * ${S}u + s]`)}, x[u * ${dv}u + c], sum); }`,
    `slots_in[slot_row(s, g) * ${dv}u + c] = sum;`,
  );
  const backward: Kernel[] = [];
  const dSlots = ctx.grad(op.outputs.slots_in);
  if (ctx.needsGrad(op.inputs.x)) {
    const g = new KernelWriter(ctx, 'mix_grad_input', 'backward');
    g.bind('dispatch', dispatch, 'read');
    g.bind('d_slots', dSlots, 'read', ty);
    g.bind('d_x', ctx.grad(op.inputs.x), 'read_write', ty);
    g.declare(decl, rowFn(groups, p));
    g.body(
      `let u = i / ${dv}u;`,
      `let c = i % ${dv}u;`,
      'let g = group_of(u);',
      `var sum = ${splat('0.0')};`,
      `for (var s = 0u; s < ${S}u; s++) { sum = fma(${splat(`dispatch[u * ${S}u + s]`)}, d_slots[slot_row(s, g) * ${dv}u + c], sum); }`,
      'd_x[i] += sum;',
    );
    backward.push(g.finish1d(N * dv));
  }
  if (ctx.needsGrad(op.inputs.dispatch)) {
    const g = new KernelWriter(ctx, 'mix_grad_dispatch', 'backward');
    const dot = dotInOrder(ctx.target, d);
    g.bind('x', x, 'read', dot.ty);
    g.bind('d_slots', dSlots, 'read', dot.ty);
    g.bind('d_dispatch', ctx.grad(op.inputs.dispatch), 'read_write');
    g.declare(decl, rowFn(groups, p));
    g.body(
      `let u = i / ${S}u;`,
      `let s = i % ${S}u;`,
      `let row = slot_row(s, group_of(u));`,
      'var dotp = 0.0;',
      `for (var c = 0u; c < ${dot.dv}u; c++) { ${dot.step(`x[u * ${dot.dv}u + c]`, `d_slots[row * ${dot.dv}u + c]`)} }`,
      'd_dispatch[i] += dotp;',
    );
    backward.push(g.finish1d(N * S));
  }
  return { forward: [fw.finish1d(S * groups * dv)], backward };
}

/** `unmix`: y[u] = Σ_s combine_weights[u, s] · expert_out[row(s, g(u))]. */
export function unmixKernels(ctx: OpContext<OpOf<'unmix'>>): Pair {
  const { op } = ctx;
  const [N, S] = ctx.shape(op.inputs.combine_weights) as [number, number];
  const d = ctx.shape(op.inputs.expert_out)[1]!;
  const p = op.attrs.slots;
  const { decl, members, groups } = groupFns(ctx);
  const out = ctx.tensor(op.inputs.expert_out);
  const cw = ctx.tensor(op.inputs.combine_weights);
  const { ty, dv, splat } = columnsPerThread(ctx.target, d);
  const fw = new KernelWriter(ctx, 'unmix', 'forward');
  fw.bind('expert_out', out, 'read', ty);
  fw.bind('combine_weights', cw, 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write', ty);
  fw.declare(decl, rowFn(groups, p));
  fw.body(
    `let u = i / ${dv}u;`,
    `let c = i % ${dv}u;`,
    'let g = group_of(u);',
    `var sum = ${splat('0.0')};`,
    `for (var s = 0u; s < ${S}u; s++) { sum = fma(${splat(`combine_weights[u * ${S}u + s]`)}, expert_out[slot_row(s, g) * ${dv}u + c], sum); }`,
    'y[i] = sum;',
  );
  const backward: Kernel[] = [];
  const dy = ctx.grad(op.outputs.y);
  if (ctx.needsGrad(op.inputs.expert_out)) {
    const g = new KernelWriter(ctx, 'unmix_grad_out', 'backward');
    g.bind('combine_weights', cw, 'read');
    g.bind('d_y', dy, 'read', ty);
    g.bind('d_expert_out', ctx.grad(op.inputs.expert_out), 'read_write', ty);
    g.declare(decl, rowFn(groups, p));
    g.body(
      `let c = i % ${dv}u;`,
      `let gs = i / ${dv}u;`,
      `let g = gs % ${groups}u;`,
      `let s = gs / ${groups}u;`,
      `var sum = ${splat('0.0')};`,
      `for (var m = 0u; m < ${members}u; m++) { let u = member(g, m); sum = fma(${splat(`combine_weights[u * ${S}u + s]`)}, d_y[u * ${dv}u + c], sum); }`,
      `d_expert_out[slot_row(s, g) * ${dv}u + c] += sum;`,
    );
    backward.push(g.finish1d(S * groups * dv));
  }
  if (ctx.needsGrad(op.inputs.combine_weights)) {
    const g = new KernelWriter(ctx, 'unmix_grad_weights', 'backward');
    const dot = dotInOrder(ctx.target, d);
    g.bind('expert_out', out, 'read', dot.ty);
    g.bind('d_y', dy, 'read', dot.ty);
    g.bind('d_combine', ctx.grad(op.inputs.combine_weights), 'read_write');
    g.declare(decl, rowFn(groups, p));
    g.body(
      `let u = i / ${S}u;`,
      `let s = i % ${S}u;`,
      'let row = slot_row(s, group_of(u));',
      'var dotp = 0.0;',
      `for (var c = 0u; c < ${dot.dv}u; c++) { ${dot.step(`d_y[u * ${dot.dv}u + c]`, `expert_out[row * ${dot.dv}u + c]`)} }`,
      'd_combine[i] += dotp;',
    );
    backward.push(g.finish1d(N * S));
  }
  return { forward: [fw.finish1d(N * dv)], backward };
}

/** The kernel generators of this file's op kinds. */
export const MIXING_KERNELS: KernelTable<'combine' | 'scale_rows' | 'mix_weights' | 'mix' | 'unmix'> = {
  combine: combineKernels,
  scale_rows: scaleRowsKernels,
  mix_weights: mixWeightsKernels,
  mix: mixKernels,
  unmix: unmixKernels,
};
