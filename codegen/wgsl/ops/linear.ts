/**
 * `linear` (y = x·Wᵀ) and `lora_linear` (a frozen linear plus the
 * router-weighted low-rank updates of MoLoRA). All products go through the
 * register-blocked GEMM body; the LoRA terms ride in its epilogue.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import { columnVectors, depthVectors, gemmKernel, rowVectors, type GemmSpec } from '../gemm.ts';
import { gemmTile, type Kernel } from '../kernel.ts';
import { KernelWriter, f32, type KernelTable, type OpContext } from '../kernel_writer.ts';
import { divU, loopU, mulU } from '../wgsl_fold.ts';

type Pair = { forward: Kernel[]; backward: Kernel[] };

export function linearKernels(ctx: OpContext<OpOf<'linear'>>): Pair {
  const { op } = ctx;
  const [M, K] = ctx.shape(op.inputs.x) as [number, number];
  const O = ctx.shape(op.inputs.weight)[0]!;
  const x = ctx.tensor(op.inputs.x);
  const w = ctx.tensor(op.inputs.weight);
  const fw = new KernelWriter(ctx, 'matmul', 'forward');
  // x and W are both contiguous along the reduction: 16-byte loads when K allows.
  const fwdTile = gemmTile(ctx.target, 'forward');
  const vec = ctx.target.fusion !== false && depthVectors(fwdTile, K);
  fw.bind('x', x, 'read', vec ? 'vec4f' : 'f32');
  fw.bind('w', w, 'read', vec ? 'vec4f' : 'f32');
  const yStore4 = columnVectors(fwdTile, O);
  fw.bind('y', ctx.tensor(op.outputs.y), 'read_write', yStore4 ? 'vec4f' : 'f32');
  const fspec: GemmSpec = {
    rows: M,
    cols: O,
    tile: fwdTile,
    depthEnd: `${K}u`,
    a: (i, k) => `x[r${i} * ${K}u + ${k}]`,
    b: [(k, c) => `w[${c} * ${K}u + ${k}]`],
    ...(vec ? { vec4: { a: (i: number, k4: string) => `x[r${i} * ${K / 4}u + ${k4}]`, b: [(k4: string, c: string) => `w[${c} * ${K / 4}u + ${k4}]`] } } : {}),
    store: (i, c, acc) => [`y[r${i} * ${O}u + ${c}] = ${acc[0]};`],
    ...(yStore4 ? { store4: (i: number, c4: string, acc: readonly string[]) => [`y[r${i} * ${O / 4}u + ${c4}] = ${acc[0]};`] } : {}),
  };
  const backward: Kernel[] = [];
  const dy = ctx.grad(op.outputs.y);
  if (ctx.needsGrad(op.inputs.x)) {
    const bw = new KernelWriter(ctx, 'matmul_grad_input', 'backward');
    const tile = gemmTile(ctx.target, 'input_grad');
    const cv = columnVectors(tile, K);
    const a4 = cv && O % 4 === 0;
    bw.bind('d_y', dy, 'read', a4 ? 'vec4f' : 'f32');
    bw.bind('w', w, 'read', cv ? 'vec4f' : 'f32');
    bw.bind('d_x', ctx.grad(op.inputs.x), 'read_write', cv ? 'vec4f' : 'f32');
    const spec: GemmSpec = {
      rows: M,
      cols: K,
      tile,
      contiguous: { a: 'k', b: 'col' },
      depthEnd: `${O}u`,
      a: (i, k) => `d_y[r${i} * ${O}u + ${k}]`,
      b: [(k, c) => `w[${k} * ${K}u + ${c}]`],
      ...(cv ? { vec4Cols: [(k: string, c4: string) => `w[${k} * ${K / 4}u + ${c4}]`] } : {}),
      ...(a4 ? { vec4ColsA: (i: number, k4: string) => `d_y[r${i} * ${O / 4}u + ${k4}]` } : {}),
      store: (i, c, acc) => [`d_x[r${i} * ${K}u + ${c}] += ${acc[0]};`],
      ...(cv ? { store4: (i: number, c4: string, acc: readonly string[]) => [`d_x[r${i} * ${K / 4}u + ${c4}] += ${acc[0]};`] } : {}),
    };
    backward.push(gemmKernel(bw, spec));
  }
  if (ctx.needsGrad(op.inputs.weight)) {
    const bw = new KernelWriter(ctx, 'matmul_grad_weight', 'backward');
    const tile = gemmTile(ctx.target, 'weight_grad');
    const cv = columnVectors(tile, K);
    const rv = cv && rowVectors(tile, O);
    bw.bind('d_y', dy, 'read', rv ? 'vec4f' : 'f32');
    bw.bind('x', x, 'read', cv ? 'vec4f' : 'f32');
    bw.bind('d_w', ctx.grad(op.inputs.weight), 'read_write', cv ? 'vec4f' : 'f32');
    const spec: GemmSpec = {
      rows: O,
      cols: K,
      tile,
      contiguous: { a: 'row', b: 'col' },
      depthEnd: `${M}u`,
      a: (i, k) => `d_y[${k} * ${O}u + r${i}]`,
      b: [(k, c) => `x[${k} * ${K}u + ${c}]`],
      ...(cv ? { vec4Cols: [(k: string, c4: string) => `x[${k} * ${K / 4}u + ${c4}]`] } : {}),
      ...(rv ? { vec4Rows: (k: string, r4: string) => `d_y[${k} * ${O / 4}u + ${r4}]` } : {}),
      store: (i, c, acc) => [`d_w[r${i} * ${K}u + ${c}] += ${acc[0]};`],
      ...(cv ? { store4: (i: number, c4: string, acc: readonly string[]) => [`d_w[r${i} * ${K / 4}u + ${c4}] += ${acc[0]};`] } : {}),
    };
    backward.push(gemmKernel(bw, spec));
  }
  return { forward: [gemmKernel(fw, fspec)], backward };
}

/**
 * `lora_linear`: u[t,j] = A_{e_j} x[t] (saved), then
 * y[t] = W x[t] + scale · Σ_j g_j · B_{e_j} u[t,j].
 */
export function loraLinearKernels(ctx: OpContext<OpOf<'lora_linear'>>): Pair {
  const { op } = ctx;
  const [N, I] = ctx.shape(op.inputs.x) as [number, number];
  const O = ctx.shape(op.inputs.weight)[0]!;
  const [E, r] = ctx.shape(op.inputs.lora_a) as [number, number];
  const K = ctx.shape(op.inputs.token_expert)[1]!;
  const scale = f32(op.attrs.scale);
  const x = ctx.tensor(op.inputs.x);
  const w = ctx.tensor(op.inputs.weight);
  const a = ctx.tensor(op.inputs.lora_a);
  const b = ctx.tensor(op.inputs.lora_b);
  const te = ctx.tensor(op.inputs.token_expert);
  const tg = ctx.tensor(op.inputs.token_gate);
  const u = ctx.saved('lora_u', N * K * r);

  // u[t, j, ρ] = Σ_i A[e_j, ρ, i] x[t, i]  (0 for an empty choice).
  const fu = new KernelWriter(ctx, 'lora_down_project', 'forward');
  fu.bind('x', x, 'read');
  fu.bind('lora_a', a, 'read');
  fu.bind('token_expert', te, 'read', 'i32');
  fu.bind('u', u, 'read_write');
  fu.body(
    `let tj = i / ${r}u;`,
    `let rho = i % ${r}u;`,
    `let t = ${divU('tj', K)};`,
    'let e = token_expert[tj];',
    'var acc = 0.0;',
    `if (e >= 0) { for (var c = 0u; c < ${I}u; c++) { acc = fma(lora_a[(u32(e) * ${r}u + rho) * ${I}u + c], x[t * ${I}u + c], acc); } }`,
    'u[i] = acc;',
  );
  const loraTerm = [
    'fn lora_out(t: u32, o: u32) -> f32 {',
    '  var acc = 0.0;',
    `  ${loopU('j', K)}`,
    `    let e = token_expert[${mulU('t', K)} + j];`,
    '    if (e < 0) { continue; }',
    '    var bu = 0.0;',
    `    for (var rho = 0u; rho < ${r}u; rho++) { bu = fma(lora_b[(u32(e) * ${O}u + o) * ${r}u + rho], u[(${mulU('t', K)} + j) * ${r}u + rho], bu); }`,
    `    acc = fma(token_gate[${mulU('t', K)} + j], bu, acc);`,
    '  }',
    `  return ${scale} * acc;`,
    '}',
  ].join('\n');
  // The base product as a plain GEMM, then the adapters' term in a pass of its own:
  // one thread per output keeps each kernel small (an epilogue with the
  // adapter loops inlined per tile element made lavapipe's compiler slow).
  const fy = new KernelWriter(ctx, 'lora_linear', 'forward');
  fy.bind('x', x, 'read');
  fy.bind('w', w, 'read');
  fy.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  const yspec: GemmSpec = { rows: N, cols: O, tile: gemmTile(ctx.target, 'forward'), depthEnd: `${I}u`, a: (i, k) => `x[r${i} * ${I}u + ${k}]`, b: [(k, c) => `w[${c} * ${I}u + ${k}]`], store: (i, c, acc) => [`y[r${i} * ${O}u + ${c}] = ${acc[0]};`] };
  const fa = new KernelWriter(ctx, 'lora_add', 'forward');
  fa.bind('lora_b', b, 'read');
  fa.bind('u', u, 'read');
  fa.bind('token_expert', te, 'read', 'i32');
  fa.bind('token_gate', tg, 'read');
  fa.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fa.declare(loraTerm);
  fa.body(`y[i] += lora_out(i / ${O}u, i % ${O}u);`);
  const forward = [fu.finish1d(N * K * r), gemmKernel(fy, yspec), fa.finish1d(N * O)];

  // Backward: v[t,j] = B_{e_j}ᵀ dy[t] first; everything else reads it.
  const dy = ctx.grad(op.outputs.y);
  const v = ctx.scratch('lora_v', N * K * r);
  const gv = new KernelWriter(ctx, 'lora_grad_v', 'backward');
  gv.bind('d_y', dy, 'read');
  gv.bind('lora_b', b, 'read');
  gv.bind('token_expert', te, 'read', 'i32');
  gv.bind('v', v, 'read_write');
  gv.body(
    `let tj = i / ${r}u;`,
    `let rho = i % ${r}u;`,
    `let t = ${divU('tj', K)};`,
    'let e = token_expert[tj];',
    'var acc = 0.0;',
    `if (e >= 0) { for (var o = 0u; o < ${O}u; o++) { acc = fma(lora_b[(u32(e) * ${O}u + o) * ${r}u + rho], d_y[t * ${O}u + o], acc); } }`,
    'v[i] = acc;',
  );
  const backward: Kernel[] = [gv.finish1d(N * K * r)];
  if (ctx.needsGrad(op.inputs.x)) {
    // dx = dy·W + scale Σ_j g_j A_{e_j}ᵀ v[t,j]
    const gx = new KernelWriter(ctx, 'lora_grad_input', 'backward');
    gx.bind('d_y', dy, 'read');
    gx.bind('w', w, 'read');
    gx.bind('d_x', ctx.grad(op.inputs.x), 'read_write');
    const spec: GemmSpec = { rows: N, cols: I, tile: gemmTile(ctx.target, 'input_grad'), contiguous: { a: 'k', b: 'col' }, depthEnd: `${O}u`, a: (i, k) => `d_y[r${i} * ${O}u + ${k}]`, b: [(k, c) => `w[${k} * ${I}u + ${c}]`], store: (i, c, acc) => [`d_x[r${i} * ${I}u + ${c}] += ${acc[0]};`] };
    backward.push(gemmKernel(gx, spec));
    // dx[t, c] += scale Σ_j g_j Σ_ρ A[e_j, ρ, c] v[t, j, ρ]
    const ga = new KernelWriter(ctx, 'lora_grad_input_add', 'backward');
    ga.bind('lora_a', a, 'read');
    ga.bind('v', v, 'read');
    ga.bind('token_expert', te, 'read', 'i32');
    ga.bind('token_gate', tg, 'read');
    ga.bind('d_x', ctx.grad(op.inputs.x), 'read_write');
    ga.body(
      `let t = i / ${I}u;`,
      `let c = i % ${I}u;`,
      'var acc = 0.0;',
      `${loopU('j', K)}`,
      `  let e = token_expert[${mulU('t', K)} + j];`,
      '  if (e < 0) { continue; }',
      '  var av = 0.0;',
      `  for (var rho = 0u; rho < ${r}u; rho++) { av = fma(lora_a[(u32(e) * ${r}u + rho) * ${I}u + c], v[(${mulU('t', K)} + j) * ${r}u + rho], av); }`,
      `  acc = fma(token_gate[${mulU('t', K)} + j], av, acc);`,
      '}',
      `d_x[i] += ${scale} * acc;`,
    );
    backward.push(ga.finish1d(N * I));
  }
  if (ctx.needsGrad(op.inputs.token_gate)) {
    // dg[t,j] = scale · dy·(B u) = scale · u[t,j]·v[t,j]
    const gg = new KernelWriter(ctx, 'lora_grad_gate', 'backward');
    gg.bind('u', u, 'read');
    gg.bind('v', v, 'read');
    gg.bind('token_expert', te, 'read', 'i32');
    gg.bind('d_gate', ctx.grad(op.inputs.token_gate), 'read_write');
    gg.body('if (token_expert[i] < 0) { return; }', 'var acc = 0.0;', `for (var rho = 0u; rho < ${r}u; rho++) { acc = fma(u[i * ${r}u + rho], v[i * ${r}u + rho], acc); }`, `d_gate[i] += ${scale} * acc;`);
    backward.push(gg.finish1d(N * K));
  }
  // Per-expert parameter gradients: one thread per element, scanning tokens and choices in order.
  const perExpert = (template: string, param: 'lora_a' | 'lora_b', cols: number, term: string): void => {
    if (!ctx.needsGrad(op.inputs[param])) return;
    const g = new KernelWriter(ctx, template, 'backward');
    g.bind('token_expert', te, 'read', 'i32');
    g.bind('token_gate', tg, 'read');
    g.bind(param === 'lora_a' ? 'v' : 'u', param === 'lora_a' ? v : u, 'read');
    g.bind(param === 'lora_a' ? 'x' : 'd_y', param === 'lora_a' ? x : dy, 'read');
    g.bind('d_param', ctx.grad(op.inputs[param]), 'read_write');
    const rows = param === 'lora_a' ? r : O;
    g.body(
      `let e = i32(i / ${rows * cols}u);`,
      `let row = (i / ${cols}u) % ${rows}u;`,
      `let col = i % ${cols}u;`,
      'var acc = 0.0;',
      `for (var t = 0u; t < ${N}u; t++) {`,
      `  ${loopU('j', K)}`,
      `    let tj = ${mulU('t', K)} + j;`,
      `    if (token_expert[tj] == e) { acc = fma(token_gate[tj], ${term}, acc); }`,
      '  }',
      '}',
      `d_param[i] += ${scale} * acc;`,
    );
    backward.push(g.finish1d(E * rows * cols));
  };
  // dA[e, ρ, c] += scale Σ g · v[t,j,ρ] · x[t,c];  dB[e, o, ρ] += scale Σ g · dy[t,o] · u[t,j,ρ]
  perExpert('lora_grad_a', 'lora_a', I, `v[tj * ${r}u + row] * x[t * ${I}u + col]`);
  perExpert('lora_grad_b', 'lora_b', r, `d_y[t * ${O}u + row] * u[tj * ${r}u + col]`);
  return { forward, backward };
}

/** The kernel generators of this file's op kinds. */
export const LINEAR_KERNELS: KernelTable<'linear' | 'lora_linear'> = {
  linear: linearKernels,
  lora_linear: loraLinearKernels,
};
