/**
 * `linear` (y = x·Wᵀ) and `lora_linear` (a frozen linear plus the
 * router-weighted low-rank updates of MoLoRA). The dense products go through
 * the GEMM stage (gemm.ts); the low-rank terms are passes of their own.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import { gemmKernels } from '../gemm.ts';
import { columnMajor, rowMajor } from '../gemm_view.ts';
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
  // y = x·Wᵀ: x is [M, K] and W is [O, K], both contiguous along the reduction.
  const forward = gemmKernels(ctx, 'forward', {
    template: 'matmul',
    rows: M,
    cols: O,
    depth: K,
    tile: gemmTile(ctx.target, 'forward'),
    a: rowMajor('x', x, K),
    b: [columnMajor('w', w, K)],
    outputs: [{ view: rowMajor('y', ctx.tensor(op.outputs.y), O), value: (v) => v.acc(0) }],
  });
  const backward: Kernel[] = [];
  const dy = ctx.grad(op.outputs.y);
  if (ctx.needsGrad(op.inputs.x)) {
    // dx += dy·W: W read as [O, K] along its columns.
    backward.push(
      ...gemmKernels(ctx, 'backward', {
        template: 'matmul_grad_input',
        rows: M,
        cols: K,
        depth: O,
        tile: gemmTile(ctx.target, 'input_grad'),
        a: rowMajor('d_y', dy, O),
        b: [rowMajor('w', w, K)],
        outputs: [{ view: rowMajor('d_x', ctx.grad(op.inputs.x), K), accumulate: true, value: (v) => v.acc(0) }],
      }),
    );
  }
  if (ctx.needsGrad(op.inputs.weight)) {
    // dW += dyᵀ·x: the reduction runs over the rows of both.
    backward.push(
      ...gemmKernels(ctx, 'backward', {
        template: 'matmul_grad_weight',
        rows: O,
        cols: K,
        depth: M,
        tile: gemmTile(ctx.target, 'weight_grad'),
        a: columnMajor('d_y', dy, O),
        b: [rowMajor('x', x, K)],
        outputs: [{ view: rowMajor('d_w', ctx.grad(op.inputs.weight), K), accumulate: true, value: (v) => v.acc(0) }],
      }),
    );
  }
  return { forward, backward };
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
  const fa = new KernelWriter(ctx, 'lora_add', 'forward');
  fa.bind('lora_b', b, 'read');
  fa.bind('u', u, 'read');
  fa.bind('token_expert', te, 'read', 'i32');
  fa.bind('token_gate', tg, 'read');
  fa.bind('y', ctx.tensor(op.outputs.y), 'read_write');
  fa.declare(loraTerm);
  fa.body(`y[i] += lora_out(i / ${O}u, i % ${O}u);`);
  const base = gemmKernels(ctx, 'forward', {
    template: 'lora_linear',
    rows: N,
    cols: O,
    depth: I,
    tile: gemmTile(ctx.target, 'forward'),
    a: rowMajor('x', x, I),
    b: [columnMajor('w', w, I)],
    outputs: [{ view: rowMajor('y', ctx.tensor(op.outputs.y), O), value: (v) => v.acc(0) }],
  });
  const forward = [fu.finish1d(N * K * r), ...base, fa.finish1d(N * O)];

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
    backward.push(
      ...gemmKernels(ctx, 'backward', {
        template: 'lora_grad_input',
        rows: N,
        cols: I,
        depth: O,
        tile: gemmTile(ctx.target, 'input_grad'),
        a: rowMajor('d_y', dy, O),
        b: [rowMajor('w', w, I)],
        outputs: [{ view: rowMajor('d_x', ctx.grad(op.inputs.x), I), accumulate: true, value: (v) => v.acc(0) }],
      }),
    );
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
