/**
 * Rotary position encoding and causal multi-head attention. Attention runs
 * one thread per (sequence, head, query) with the online softmax of
 * codegen/rowmath/rows.ts and saves
 * each row's logsumexp; the backward recomputes probabilities from it
 * (no N×N buffer): one kernel for dq, one for dk and dv.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import type { Kernel } from '../kernel.ts';
import { wgslOnlineLse, wgslOnlineOut, wgslOnlineSoftmax } from '../../rowmath/rows.ts';
import { KernelWriter, f32, type KernelTable, type OpContext } from '../kernel_writer.ts';

type Pair = { forward: Kernel[]; backward: Kernel[] };

/** cos/sin of θ = s · base^(−2p/D) per (position, pair), in Float64 then rounded: f32 cos of a large angle is inexact. */
function rotaryTable(seq: number, D: number, base: number): Float32Array {
  const half = D / 2;
  const t = new Float32Array(seq * half * 2);
  for (let s = 0; s < seq; s++) {
    for (let p = 0; p < half; p++) {
      const theta = s * Math.pow(base, (-2 * p) / D);
      t[(s * half + p) * 2] = Math.cos(theta);
      t[(s * half + p) * 2 + 1] = Math.sin(theta);
    }
  }
  return t;
}

/**
 * The rotation of element `c` of a head's q or k slice (RoPE): the pair's
 * cos/sin at `position` from the table, its even and odd elements as `a` and
 * `b`; ROTATED is the result. Shared by the rotary and decode kernels so
 * both rotate with the same table and formula.
 */
function rotation(position: string, half: number, even: string, odd: string, sign: '' | '-' = ''): string[] {
  return [`let pair = ${position} * ${half}u + c / 2u;`, 'let cs = cos_sin[pair * 2u];', `let sn = ${sign}cos_sin[pair * 2u + 1u];`, `let a = ${even};`, `let b = ${odd};`];
}
const ROTATED = 'select(a * sn + b * cs, a * cs - b * sn, c % 2u == 0u)';

export function rotaryKernels(ctx: OpContext<OpOf<'rotary'>>): Pair {
  const { op } = ctx;
  const [N, W] = ctx.shape(op.inputs.x) as [number, number];
  const d = W / 3;
  const heads = op.attrs.heads;
  const seq = op.attrs.seq;
  const D = d / heads;
  const half = D / 2;
  const table = ctx.constant('cos_sin', rotaryTable(seq, D, op.attrs.base));
  const body = (sign: '' | '-') => [
    `let t = i / ${W}u;`,
    `let col = i % ${W}u;`,
    `if (col >= ${2 * d}u) { OUT[i] IS IN[i]; return; }`,
    `let c = col % ${D}u;`,
    'let even = i - (c % 2u);',
    ...rotation(`(t % ${seq}u)`, half, 'IN[even]', 'IN[even + 1u]', sign),
    `OUT[i] IS ${ROTATED};`,
  ];
  const fw = new KernelWriter(ctx, 'rotary', 'forward');
  fw.bind('x', ctx.tensor(op.inputs.x), 'read');
  fw.bind('cos_sin', table, 'read');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fw.body(...body('').map((l) => l.replaceAll('OUT', 'y').replaceAll('IN', 'x').replace(' IS ', ' = ')));
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.x)) {
    // The transpose of a rotation by θ is the rotation by −θ.
    const bw = new KernelWriter(ctx, 'rotary_backward', 'backward');
    bw.bind('d_y', ctx.grad(op.outputs.y), 'read');
    bw.bind('cos_sin', table, 'read');
    bw.bind('d_x', ctx.grad(op.inputs.x), 'read_write');
    bw.body(...body('-').map((l) => l.replaceAll('OUT', 'd_x').replaceAll('IN', 'd_y').replace(' IS ', ' += ')));
    backward.push(bw.finish1d(N * W));
  }
  return { forward: [fw.finish1d(N * W)], backward };
}

export function attentionKernels(ctx: OpContext<OpOf<'attention'>>): Pair {
  const { op } = ctx;
  const [N, W] = ctx.shape(op.inputs.qkv) as [number, number];
  const d = W / 3;
  const H = op.attrs.heads;
  const S = op.attrs.seq;
  const D = d / H;
  const scale = f32(1 / Math.sqrt(D));
  const qkv = ctx.tensor(op.inputs.qkv);
  const y = ctx.tensor(op.outputs.y);
  const lse = ctx.saved('lse', (N / S) * H * S);
  // Index helpers: thread i ↔ (sequence b, head h, position p).
  const coords = [`let p = i % ${S}u;`, `let bh = i / ${S}u;`, `let b = bh / ${H}u;`, `let h = bh % ${H}u;`, `let base_t = b * ${S}u;`];
  const qAt = (t: string, c: string) => `qkv[(${t}) * ${W}u + h * ${D}u + ${c}]`;
  const kAt = (t: string, c: string) => `qkv[(${t}) * ${W}u + ${d}u + h * ${D}u + ${c}]`;
  const vAt = (t: string, c: string) => `qkv[(${t}) * ${W}u + ${2 * d}u + h * ${D}u + ${c}]`;
  const score = (ti: string, tj: string) => [`var s = 0.0;`, `for (var c = 0u; c < ${D}u; c++) { s = fma(${qAt(ti, 'c')}, ${kAt(tj, 'c')}, s); }`, `s = s * ${scale};`];

  const fw = new KernelWriter(ctx, 'attention', 'forward');
  fw.bind('qkv', qkv, 'read');
  fw.bind('y', y, 'read_write');
  fw.bind('lse', lse, 'read_write');
  fw.body(
    ...coords,
    'let tq = base_t + p;',
    ...wgslOnlineSoftmax('var j = 0u; j <= p; j++', score('tq', 'base_t + j'), (c) => vAt('base_t + j', c), D),
    `for (var c = 0u; c < ${D}u; c++) { y[tq * ${d}u + h * ${D}u + c] = ${wgslOnlineOut('c')}; }`,
    `lse[i] = ${wgslOnlineLse()};`,
  );
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.qkv)) {
    const dy = ctx.grad(op.outputs.y);
    const dqkv = ctx.grad(op.inputs.qkv);
    const delta = ctx.scratch('delta', (N / S) * H * S);
    const dyAt = (t: string, c: string) => `d_y[(${t}) * ${d}u + h * ${D}u + ${c}]`;
    // dq_i = Σ_j dS_ij k_j · scale, dS_ij = P_ij (dy_i·v_j − Δ_i), Δ_i = dy_i·y_i.
    const bq = new KernelWriter(ctx, 'attention_grad_q', 'backward');
    bq.bind('qkv', qkv, 'read');
    bq.bind('y', y, 'read');
    bq.bind('lse', lse, 'read');
    bq.bind('d_y', dy, 'read');
    bq.bind('delta', delta, 'read_write');
    bq.bind('d_qkv', dqkv, 'read_write');
    bq.body(
      ...coords,
      'let tq = base_t + p;',
      'var dlt = 0.0;',
      `for (var c = 0u; c < ${D}u; c++) { dlt = fma(${dyAt('tq', 'c')}, y[tq * ${d}u + h * ${D}u + c], dlt); }`,
      'delta[i] = dlt;',
      `var dq: array<f32, ${D}>;`,
      'for (var j = 0u; j <= p; j++) {',
      ...score('tq', 'base_t + j').map((s) => `  ${s}`),
      '  let prob = exp(s - lse[i]);',
      '  var dp = 0.0;',
      `  for (var c = 0u; c < ${D}u; c++) { dp = fma(${dyAt('tq', 'c')}, ${vAt('base_t + j', 'c')}, dp); }`,
      `  let ds = prob * (dp - dlt) * ${scale};`,
      `  for (var c = 0u; c < ${D}u; c++) { dq[c] = fma(ds, ${kAt('base_t + j', 'c')}, dq[c]); }`,
      '}',
      `for (var c = 0u; c < ${D}u; c++) { d_qkv[tq * ${W}u + h * ${D}u + c] += dq[c]; }`,
    );
    // dk_j = Σ_{i≥j} dS_ij q_i · scale; dv_j = Σ_{i≥j} P_ij dy_i.
    const bkv = new KernelWriter(ctx, 'attention_grad_kv', 'backward');
    bkv.bind('qkv', qkv, 'read');
    bkv.bind('lse', lse, 'read');
    bkv.bind('delta', delta, 'read');
    bkv.bind('d_y', dy, 'read');
    bkv.bind('d_qkv', dqkv, 'read_write');
    bkv.body(
      ...coords,
      'let tk = base_t + p;',
      `var dk: array<f32, ${D}>;`,
      `var dv: array<f32, ${D}>;`,
      `for (var q = p; q < ${S}u; q++) {`,
      '  let tq = base_t + q;',
      `  let row = bh * ${S}u + q;`,
      ...score('tq', 'tk').map((s) => `  ${s}`),
      '  let prob = exp(s - lse[row]);',
      '  var dp = 0.0;',
      `  for (var c = 0u; c < ${D}u; c++) { dp = fma(${dyAt('tq', 'c')}, ${vAt('tk', 'c')}, dp); dv[c] = fma(prob, ${dyAt('tq', 'c')}, dv[c]); }`,
      `  let ds = prob * (dp - delta[row]) * ${scale};`,
      `  for (var c = 0u; c < ${D}u; c++) { dk[c] = fma(ds, ${qAt('tq', 'c')}, dk[c]); }`,
      '}',
      `for (var c = 0u; c < ${D}u; c++) {`,
      `  d_qkv[tk * ${W}u + ${d}u + h * ${D}u + c] += dk[c];`,
      `  d_qkv[tk * ${W}u + ${2 * d}u + h * ${D}u + c] += dv[c];`,
      '}',
    );
    backward.push(bq.finish1d(N * H), bkv.finish1d(N * H));
  }
  return { forward: [fw.finish1d(N * H)], backward };
}

/**
 * Sampling with a cache: one thread per (sequence, head) rotates the new
 * token's q and k to its position (the rotary kernel's table and formula),
 * appends k and v to the caches, and runs the forward kernel's online
 * softmax over cached rows 0..p in the same order, so the output is that of
 * `attention` at row p of the whole sequence. Inference only: no backward.
 */
export function decodeAttentionKernels(ctx: OpContext<OpOf<'decode_attention'>>): Pair {
  const { op } = ctx;
  const [B, W] = ctx.shape(op.inputs.qkv) as [number, number];
  const d = W / 3;
  const H = op.attrs.heads;
  const S = op.attrs.context;
  const D = d / H;
  const half = D / 2;
  const scale = f32(1 / Math.sqrt(D));
  const rotary = op.attrs.rotary_base > 0;
  const fw = new KernelWriter(ctx, 'decode_attention', 'forward');
  fw.bind('qkv', ctx.tensor(op.inputs.qkv), 'read');
  fw.bind('positions', ctx.tensor(op.inputs.positions), 'read', 'i32');
  if (rotary) fw.bind('cos_sin', ctx.constant('cos_sin', rotaryTable(S, D, op.attrs.rotary_base)), 'read');
  fw.bind('keys', ctx.tensor(op.outputs.keys), 'read_write');
  fw.bind('values', ctx.tensor(op.outputs.values), 'read_write');
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  // Column c of the head's q (part 0) or k (part d), rotated to position p as the rotary kernel does.
  const at = (part: number, c: string) => `qkv[row * ${W}u + ${part ? `${part}u + ` : ''}h * ${D}u + ${c}]`;
  const rotated = (part: number) =>
    rotary ? [...rotation('p', half, at(part, 'c - c % 2u'), at(part, 'c - c % 2u + 1u')).map((l) => `  ${l}`), `  let r = ${ROTATED};`] : [`  let r = ${at(part, 'c')};`];
  fw.body(
    `let row = i / ${H}u;`,
    `let h = i % ${H}u;`,
    `let p = min(u32(positions[row]), ${S - 1}u);`,
    `let base_t = row * ${S}u;`,
    `var q: array<f32, ${D}>;`,
    `for (var c = 0u; c < ${D}u; c++) {`,
    ...rotated(0),
    '  q[c] = r;',
    '}',
    `for (var c = 0u; c < ${D}u; c++) {`,
    ...rotated(d),
    `  keys[(base_t + p) * ${d}u + h * ${D}u + c] = r;`,
    `  values[(base_t + p) * ${d}u + h * ${D}u + c] = ${at(2 * d, 'c')};`,
    '}',
    ...wgslOnlineSoftmax(
      'var j = 0u; j <= p; j++',
      ['var s = 0.0;', `for (var c = 0u; c < ${D}u; c++) { s = fma(q[c], keys[(base_t + j) * ${d}u + h * ${D}u + c], s); }`, `s = s * ${scale};`],
      (c) => `values[(base_t + j) * ${d}u + h * ${D}u + ${c}]`,
      D,
    ),
    `for (var c = 0u; c < ${D}u; c++) { y[row * ${d}u + h * ${D}u + c] = ${wgslOnlineOut('c')}; }`,
  );
  return { forward: [fw.finish1d(B * H)], backward: [] };
}

/** The kernel generators of this file's op kinds. */
export const ATTENTION_KERNELS: KernelTable<'rotary' | 'attention' | 'decode_attention'> = {
  rotary: rotaryKernels,
  attention: attentionKernels,
  decode_attention: decodeAttentionKernels,
};
