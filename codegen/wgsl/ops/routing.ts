/**
 * Router and per-expert selection kernels: logits and scores, top-c per
 * expert and select-all, with their backward kernels (top-k per token and
 * capacity are in token_choice.ts). Selections use integer logic only and
 * visit candidates in a fixed order, so results are deterministic and
 * identical to the reference given the same scores.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import { inlineWgsl } from '../../rowmath/expr.ts';
import { wgslHelpers } from '../../rowmath/functions.ts';
import { SCORES } from '../../rowmath/scores.ts';
import { SOFTMAX, SOFTMAX_BACKWARD, wgslMap, wgslReductions } from '../../rowmath/rows.ts';
import { gemmKernels } from '../gemm.ts';
import { columnMajor, rowMajor } from '../gemm_view.ts';
import { gemmTile, type Kernel } from '../kernel.ts';
import { KernelWriter, f32, type KernelTable, type OpContext } from '../kernel_writer.ts';
import { STATE, STATE_BUFFER } from '../train_state.ts';

type Pair = { forward: Kernel[]; backward: Kernel[] };

/** `router`: logits = (x·Wᵀ)/τ, then softmax over experts or sigmoid (gather routers). */
export function routerKernels(ctx: OpContext<OpOf<'router'>>): Pair {
  const { op } = ctx;
  const [N, d] = ctx.shape(op.inputs.x) as [number, number];
  const S = ctx.shape(op.inputs.weight)[0]!;
  const learned = !!op.inputs.log_temperature;
  // Jitter multiplies the router's input by seeded noise in training steps only (docs/ROUTING.md).
  const jitter = ctx.training && op.attrs.jitter > 0 ? op.attrs.jitter : 0;
  const noiseFn = jitterNoise(jitter, d, ctx.seed);
  const hasProbs = !!op.outputs.probs;
  const score = op.attrs.score;
  const tau = learned ? 'exp(log_temperature[0])' : f32(op.attrs.temperature);

  // Forward 1: logits = (x·Wᵀ)/τ as a register-blocked GEMM (fine-grained routers have 64+ experts).
  // Jitter scales each element of x, so its loads stay scalar.
  const bindTemperature = (w: KernelWriter) => {
    if (learned) w.bind('log_temperature', ctx.tensor(op.inputs.log_temperature), 'read');
  };
  const bindNoise = (w: KernelWriter) => {
    if (jitter) w.bind('state', STATE_BUFFER, 'read');
    w.declare(noiseFn);
  };
  const noise = jitter ? { factor: (t: string, c: string) => `noise(${t}, ${c})` } : {};
  const forward = gemmKernels(ctx, 'forward', {
    template: 'router_logits',
    rows: N,
    cols: S,
    depth: d,
    tile: gemmTile(ctx.target, 'forward'),
    a: rowMajor('x', ctx.tensor(op.inputs.x), d, noise),
    b: [columnMajor('w', ctx.tensor(op.inputs.weight), d)],
    outputs: [{ view: rowMajor('logits', ctx.tensor(op.outputs.logits), S), value: (v) => `${v.acc(0)} * (1.0 / ${tau})` }],
    extra: (w) => {
      bindTemperature(w);
      bindNoise(w);
    },
  });

  // Forward 2: probabilities per token, by the score function's shape (codegen/rowmath/scores.ts).
  const scoreDef = SCORES[score];
  if (hasProbs) {
    const fw = new KernelWriter(ctx, 'router', 'forward');
    fw.bind('logits', ctx.tensor(op.outputs.logits), 'read');
    fw.bind('probs', ctx.tensor(op.outputs.probs), 'read_write');
    fw.body('let t = i;');
    switch (scoreDef.shape) {
      case 'elementwise':
        fw.declare(wgslHelpers(scoreDef.forward));
        fw.body(`for (var s = 0u; s < ${S}u; s++) { probs[t * ${S}u + s] = ${scoreDef.forward.name}(logits[t * ${S}u + s]); }`);
        break;
      case 'row_softmax': {
        // The softmax row program both backends render (codegen/rowmath/rows.ts).
        const at = (_row: string, s: string) => `logits[t * ${S}u + ${s}]`;
        fw.body(...wgslReductions(SOFTMAX, S, at), `for (var s = 0u; s < ${S}u; s++) { probs[t * ${S}u + s] = ${wgslMap(SOFTMAX, 's', at)}; }`);
        break;
      }
    }
    forward.push(fw.finish1d(N));
  }

  // Backward 1: dz from dprobs (the score function's gradient) plus dlogits; raw-product grad = dz/τ.
  const dRaw = ctx.scratch('d_raw', N * S);
  const gl = new KernelWriter(ctx, 'router_grad_logits', 'backward');
  if (hasProbs) {
    gl.bind('probs', ctx.tensor(op.outputs.probs), 'read');
    gl.bind('d_probs', ctx.grad(op.outputs.probs), 'read');
  }
  gl.bind('d_logits', ctx.grad(op.outputs.logits), 'read');
  if (learned) gl.bind('log_temperature', ctx.tensor(op.inputs.log_temperature), 'read');
  gl.bind('d_raw', dRaw, 'read_write');
  gl.body('let t = i;', `let inv_tau = 1.0 / ${tau};`);
  let scoreGrad = '';
  if (hasProbs) {
    switch (scoreDef.shape) {
      case 'elementwise':
        scoreGrad = `  dz += ${inlineWgsl(scoreDef.grad, { p: 'probs[at]', dp: 'd_probs[at]' })};`;
        break;
      case 'row_softmax': {
        const row = { p: 'probs', dp: 'd_probs' } as Record<string, string>;
        gl.body(...wgslReductions(SOFTMAX_BACKWARD, S, (r, s) => `${row[r]}[t * ${S}u + ${s}]`));
        scoreGrad = `  dz += ${wgslMap(SOFTMAX_BACKWARD, 'at', (r, s) => `${row[r]}[${s}]`)};`;
        break;
      }
    }
  }
  gl.body(`for (var s = 0u; s < ${S}u; s++) {`, `  let at = t * ${S}u + s;`, '  var dz = d_logits[at];', ...(scoreGrad ? [scoreGrad] : []));
  gl.body('  d_raw[at] = dz * inv_tau;', '}');
  const backward = [gl.finish1d(N)];

  // Backward 2: dx += d_raw·W (times the noise x was scaled by).
  if (ctx.needsGrad(op.inputs.x)) {
    backward.push(
      ...gemmKernels(ctx, 'backward', {
        template: 'router_grad_input',
        rows: N,
        cols: d,
        depth: S,
        tile: gemmTile(ctx.target, 'input_grad'),
        a: rowMajor('d_raw', dRaw, S),
        b: [rowMajor('w', ctx.tensor(op.inputs.weight), d)],
        outputs: [{ view: rowMajor('d_x', ctx.grad(op.inputs.x), d, noise), accumulate: true, value: (v) => v.acc(0) }],
        extra: bindNoise,
      }),
    );
  }
  // Backward 3: dW += d_rawᵀ·x (x as the forward saw it).
  if (ctx.needsGrad(op.inputs.weight)) {
    backward.push(
      ...gemmKernels(ctx, 'backward', {
        template: 'router_grad_weight',
        rows: S,
        cols: d,
        depth: N,
        tile: gemmTile(ctx.target, 'weight_grad'),
        a: columnMajor('d_raw', dRaw, S),
        b: [rowMajor('x', ctx.tensor(op.inputs.x), d, noise)],
        outputs: [{ view: rowMajor('d_w', ctx.grad(op.inputs.weight), d), accumulate: true, value: (v) => v.acc(0) }],
        extra: bindNoise,
      }),
    );
  }
  // Backward 4: d log τ += −Σ dz ⊙ logits (a deterministic single-workgroup sum).
  if (learned && ctx.needsGrad(op.inputs.log_temperature)) {
    const gt = new KernelWriter(ctx, 'router_grad_temperature', 'backward');
    gt.bind('d_raw', dRaw, 'read');
    gt.bind('logits', ctx.tensor(op.outputs.logits), 'read');
    gt.bind('log_temperature', ctx.tensor(op.inputs.log_temperature), 'read');
    gt.bind('d_log_temperature', ctx.grad(op.inputs.log_temperature), 'read_write');
    // d_raw = dz/τ, so dz = d_raw·τ.
    writeReduce(gt, N * S, (k) => `d_raw[${k}] * logits[${k}]`, (sum) => [`d_log_temperature[0] += -${sum} * exp(log_temperature[0]);`]);
    backward.push(gt.finishSingle(REDUCE_WG));
  }
  return { forward, backward };
}

/**
 * WGSL noise(t, c) = U(1−ε, 1+ε) from a PCG hash of (seed, step, t, c); 1 outside
 * training steps. runtime/jitter.ts computes the same numbers on the host.
 */
function jitterNoise(eps: number, d: number, seed: number): string {
  if (!eps) return '';
  return [
    wgslHelpers('pcg'),
    'fn noise(t: u32, c: u32) -> f32 {',
    `  if (state[${STATE.training}] == 0.0) { return 1.0; }`,
    `  let h = pcg(${seed >>> 0}u ^ pcg(u32(state[${STATE.step}]) ^ pcg(t * ${d}u + c)));`,
    `  return ${f32(1 - eps)} + ${f32(2 * eps)} * (f32(h >> 8u) / 16777216.0);`,
    '}',
  ].join('\n');
}

/** Threads of single-workgroup reductions. */
export const REDUCE_WG = 256;

/**
 * A deterministic sum over [0, n) in one workgroup: each thread adds a fixed
 * strided subset in order, then a fixed tree combines the partial sums.
 */
export function writeReduce(w: KernelWriter, n: number, term: (k: string) => string, finish: (sum: string) => string[]): void {
  w.declare(`var<workgroup> partial: array<f32, ${REDUCE_WG}>;`);
  w.body(
    'var acc = 0.0;',
    `for (var k = lid; k < ${n}u; k += ${REDUCE_WG}u) { acc += ${term('k')}; }`,
    'partial[lid] = acc;',
    'workgroupBarrier();',
    `for (var stride = ${REDUCE_WG / 2}u; stride > 0u; stride = stride / 2u) {`,
    '  if (lid < stride) { partial[lid] += partial[lid + stride]; }',
    '  workgroupBarrier();',
    '}',
    'if (lid == 0u) {',
    ...finish('partial[0]').map((s) => `  ${s}`),
    '}',
  );
}

/** WGSL: does (va, ia) rank before (vb, ib)? Higher value first; ties to the lower index. */
export const BEATS = 'fn beats(va: f32, ia: u32, vb: f32, ib: u32) -> bool { return va > vb || (va == vb && ia < ib); }';

/** Binds the scores and every routing table a per-expert selection writes (select_top_c, select_all). */
function bindSelection(w: KernelWriter, ctx: OpContext<OpOf<'select_top_c'> | OpOf<'select_all'>>): void {
  const { op } = ctx;
  w.bind('probs', ctx.tensor(op.inputs.probs), 'read');
  w.bind('token_expert', ctx.tensor(op.outputs.token_expert), 'read_write', 'i32');
  w.bind('token_gate', ctx.tensor(op.outputs.token_gate), 'read_write');
  w.bind('token_slot', ctx.tensor(op.outputs.token_slot), 'read_write', 'i32');
  w.bind('slot_token', ctx.tensor(op.outputs.slot_token), 'read_write', 'i32');
  w.bind('offsets', ctx.tensor(op.outputs.expert_offsets), 'read_write', 'i32');
  w.bind('load', ctx.tensor(op.outputs.load), 'read_write', 'i32');
  w.bind('demand', ctx.tensor(op.outputs.demand), 'read_write', 'i32');
}

/** `select_top_c`: expert e takes the c tokens ranked highest in probs[:, e] (ties: lower token). */
export function selectTopCKernels(ctx: OpContext<OpOf<'select_top_c'>>): Pair {
  const { op } = ctx;
  const [N, E] = ctx.shape(op.inputs.probs) as [number, number];
  const c = op.attrs.c;
  const w = new KernelWriter(ctx, 'select_top_c', 'forward');
  bindSelection(w, ctx);
  w.declare(BEATS);
  w.body(
    `let t = i / ${E}u;`,
    `let e = i % ${E}u;`,
    `let p = probs[t * ${E}u + e];`,
    '// Rank of token t in expert e\'s column: how many tokens beat it.',
    'var rank = 0u;',
    `for (var u = 0u; u < ${N}u; u++) { if (beats(probs[u * ${E}u + e], u, p, t)) { rank += 1u; } }`,
    `let at = t * ${E}u + e;`,
    `if (rank < ${c}u) {`,
    `  let row = e * ${c}u + rank;`,
    '  token_expert[at] = i32(e);',
    '  token_gate[at] = p;',
    '  token_slot[at] = i32(row);',
    '  slot_token[row] = i32(t);',
    '} else {',
    '  token_expert[at] = -1;',
    '  token_gate[at] = 0.0;',
    '  token_slot[at] = -1;',
    '}',
    'if (t == 0u) {',
    `  offsets[e] = i32(e * ${c}u);`,
    `  load[e] = ${c};`,
    `  demand[e] = ${c};`,
    `  if (e == 0u) { offsets[${E}u] = ${E * c}; }`,
    '}',
  );
  return { forward: [w.finish1d(N * E)], backward: ctx.needsGrad(op.inputs.probs) ? [maskedGateGrad(ctx, N, E)] : [] };
}

/** `select_all`: every expert takes every token. */
export function selectAllKernels(ctx: OpContext<OpOf<'select_all'>>): Pair {
  const { op } = ctx;
  const [N, E] = ctx.shape(op.inputs.probs) as [number, number];
  const w = new KernelWriter(ctx, 'select_all', 'forward');
  bindSelection(w, ctx);
  w.body(
    `let t = i / ${E}u;`,
    `let e = i % ${E}u;`,
    'token_expert[i] = i32(e);',
    'token_gate[i] = probs[i];',
    `token_slot[i] = i32(e * ${N}u + t);`,
    `slot_token[e * ${N}u + t] = i32(t);`,
    'if (t == 0u) {',
    `  offsets[e] = i32(e * ${N}u);`,
    `  load[e] = ${N};`,
    `  demand[e] = ${N};`,
    `  if (e == 0u) { offsets[${E}u] = ${E * N}; }`,
    '}',
  );
  return { forward: [w.finish1d(N * E)], backward: ctx.needsGrad(op.inputs.probs) ? [maskedGateGrad(ctx, N, E)] : [] };
}

/** dprobs[t, e] += dgate[t, e] where expert e took token t (select_top_c, select_all). */
function maskedGateGrad(ctx: OpContext<OpOf<'select_top_c'> | OpOf<'select_all'>>, N: number, E: number): Kernel {
  const { op } = ctx;
  const w = new KernelWriter(ctx, 'select_grad_probs', 'backward');
  w.bind('token_expert', ctx.tensor(op.outputs.token_expert), 'read', 'i32');
  w.bind('d_gate', ctx.grad(op.outputs.token_gate), 'read');
  w.bind('d_probs', ctx.grad(op.inputs.probs), 'read_write');
  w.body('if (token_expert[i] >= 0) { d_probs[i] += d_gate[i]; }');
  return w.finish1d(N * E);
}

/** The kernel generators of this file's op kinds. */
export const ROUTING_KERNELS: KernelTable<'router' | 'select_top_c' | 'select_all'> = {
  router: routerKernels,
  select_top_c: selectTopCKernels,
  select_all: selectAllKernels,
};
