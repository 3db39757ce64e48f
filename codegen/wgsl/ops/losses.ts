/**
 * Scalar losses (router balance, z-loss, sequence balance, cross-entropy)
 * and the loss-free bias update. Forward sums run in one workgroup with a
 * fixed reduction order; backward kernels read the loss's own gradient
 * (1 for an objective term) so a caller can scale it.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import type { Kernel } from '../kernel.ts';
import { LOG_SUM_EXP, wgslReductions, wgslResult } from '../../rowmath/rows.ts';
import { KernelWriter, f32, type KernelTable, type OpContext } from '../kernel_writer.ts';
import { loopU, mulU } from '../wgsl_fold.ts';
import { REDUCE_WG, writeReduce } from './routing.ts';
import { STATE, STATE_BUFFER } from '../train_state.ts';

type Pair = { forward: Kernel[]; backward: Kernel[] };

/** `balance_loss`: α·E·Σ_e f_e·P_e with f_e = demand_e/(N·k), P_e = mean_t probs[t,e]. */
export function balanceLossKernels(ctx: OpContext<OpOf<'balance_loss'>>): Pair {
  const { op } = ctx;
  const [N, E] = ctx.shape(op.inputs.probs) as [number, number];
  const alpha = op.attrs.alpha;
  const k = op.attrs.k;
  const probs = ctx.tensor(op.inputs.probs);
  const demand = ctx.tensor(op.inputs.demand);
  const fw = new KernelWriter(ctx, 'balance_loss', 'forward');
  fw.bind('probs', probs, 'read');
  fw.bind('demand', demand, 'read', 'i32');
  fw.bind('loss', ctx.tensor(op.outputs.loss), 'read_write');
  // Σ over (t, e) of probs[t,e]·demand[e], scaled once at the end.
  writeReduce(fw, N * E, (i) => `probs[${i}] * f32(demand[${i} % ${E}u])`, (sum) => [`loss[0] = ${f32((alpha * E) / (N * k * N))} * ${sum};`]);
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.probs)) {
    const bw = new KernelWriter(ctx, 'balance_loss_backward', 'backward');
    bw.bind('demand', demand, 'read', 'i32');
    bw.bind('d_loss', ctx.grad(op.outputs.loss), 'read');
    bw.bind('d_probs', ctx.grad(op.inputs.probs), 'read_write');
    bw.body(`d_probs[i] += d_loss[0] * ${f32((alpha * E) / (N * k * N))} * f32(demand[i % ${E}u]);`);
    backward.push(bw.finish1d(N * E));
  }
  return { forward: [fw.finishSingle(REDUCE_WG)], backward };
}

/**
 * `global_balance_loss`: α·E·Σ_e f_e·P_e with f_e from the expert counts of
 * this micro-batch plus, in a training step, the step's earlier ones. The
 * kernel keeps the running sums itself (`running`: E counts, the tokens, and
 * the step they belong to), starting them afresh when the step changes, so
 * no other phase of the step needs to know about them.
 */
export function globalBalanceLossKernels(ctx: OpContext<OpOf<'global_balance_loss'>>): Pair {
  const { op } = ctx;
  const [N, E] = ctx.shape(op.inputs.probs) as [number, number];
  const { alpha, k } = op.attrs;
  const probs = ctx.tensor(op.inputs.probs);
  // f_e, saved for backward (the running sums have moved on by then).
  const f = ctx.saved('f', E);
  const fw = new KernelWriter(ctx, 'global_balance_loss', 'forward');
  fw.bind('probs', probs, 'read');
  fw.bind('demand', ctx.tensor(op.inputs.demand), 'read', 'i32');
  fw.bind('f', f, 'read_write');
  if (ctx.training) {
    fw.bind('state', STATE_BUFFER, 'read');
    fw.bind('running', ctx.saved('running', E + 2, 'i32'), 'read_write', 'i32');
    fw.body(
      'if (lid == 0u) {',
      `  let training = state[${STATE.training}] != 0.0;`,
      `  let step = i32(state[${STATE.step}]);`,
      `  if (training && running[${E + 1}u] != step) { for (var e = 0u; e <= ${E}u; e++) { running[e] = 0; } running[${E + 1}u] = step; }`,
      `  let tokens = ${N} + select(0, running[${E}u], training);`,
      `  for (var e = 0u; e < ${E}u; e++) { f[e] = f32(demand[e] + select(0, running[e], training)) / (${f32(k)} * f32(tokens)); }`,
      '  if (training) {',
      `    for (var e = 0u; e < ${E}u; e++) { running[e] += demand[e]; }`,
      `    running[${E}u] = tokens;`,
      '  }',
      '}',
    );
  } else {
    fw.body('if (lid == 0u) {', `  for (var e = 0u; e < ${E}u; e++) { f[e] = f32(demand[e]) / ${f32(k * N)}; }`, '}');
  }
  fw.body('storageBarrier();', 'workgroupBarrier();');
  fw.bind('loss', ctx.tensor(op.outputs.loss), 'read_write');
  writeReduce(fw, N * E, (i) => `probs[${i}] * f[${i} % ${E}u]`, (sum) => [`loss[0] = ${f32((alpha * E) / N)} * ${sum};`]);
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.probs)) {
    const bw = new KernelWriter(ctx, 'global_balance_loss_backward', 'backward');
    bw.bind('f', f, 'read');
    bw.bind('d_loss', ctx.grad(op.outputs.loss), 'read');
    bw.bind('d_probs', ctx.grad(op.inputs.probs), 'read_write');
    bw.body(`d_probs[i] += d_loss[0] * ${f32((alpha * E) / N)} * f[i % ${E}u];`);
    backward.push(bw.finish1d(N * E));
  }
  return { forward: [fw.finishSingle(REDUCE_WG)], backward };
}

/** WGSL: logsumexp of row t of an [N, S] array named `logits`. */
function lseFn(S: number): string {
  // log-sum-exp of row t of logits, from the row program both backends render (codegen/rowmath/rows.ts).
  const at = (_row: string, s: string) => `logits[t * ${S}u + ${s}]`;
  return ['fn lse(t: u32) -> f32 {', ...wgslReductions(LOG_SUM_EXP, S, at, '  '), `  return ${wgslResult(LOG_SUM_EXP)};`, '}'].join('\n');
}

/** `z_loss`: β · mean_t lse(logits[t])². */
export function zLossKernels(ctx: OpContext<OpOf<'z_loss'>>): Pair {
  const { op } = ctx;
  const [N, S] = ctx.shape(op.inputs.logits) as [number, number];
  const beta = op.attrs.beta;
  const logits = ctx.tensor(op.inputs.logits);
  const fw = new KernelWriter(ctx, 'z_loss', 'forward');
  fw.bind('logits', logits, 'read');
  fw.bind('loss', ctx.tensor(op.outputs.loss), 'read_write');
  fw.declare(lseFn(S));
  writeReduce(fw, N, (t) => `lse(${t}) * lse(${t})`, (sum) => [`loss[0] = ${f32(beta / N)} * ${sum};`]);
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.logits)) {
    const bw = new KernelWriter(ctx, 'z_loss_backward', 'backward');
    bw.bind('logits', logits, 'read');
    bw.bind('d_loss', ctx.grad(op.outputs.loss), 'read');
    bw.bind('d_logits', ctx.grad(op.inputs.logits), 'read_write');
    bw.declare(lseFn(S));
    bw.body(
      'let t = i;',
      'let l = lse(t);',
      `let scale = d_loss[0] * ${f32((2 * beta) / N)} * l;`,
      `for (var s = 0u; s < ${S}u; s++) { d_logits[t * ${S}u + s] += scale * exp(logits[t * ${S}u + s] - l); }`,
    );
    backward.push(bw.finish1d(N));
  }
  return { forward: [fw.finishSingle(REDUCE_WG)], backward };
}

/** `sequence_balance_loss`: α · mean_b Σ_e (E/(k·S)) · c_be · P_be. */
export function sequenceBalanceKernels(ctx: OpContext<OpOf<'sequence_balance_loss'>>): Pair {
  const { op } = ctx;
  const E = ctx.shape(op.inputs.probs)[1]!;
  const k = op.attrs.k;
  const B = op.attrs.batch;
  const S = op.attrs.seq;
  const alpha = op.attrs.alpha;
  const probs = ctx.tensor(op.inputs.probs);
  const te = ctx.tensor(op.inputs.token_expert);
  // c_be: choices of expert e in sequence b, counted in token order.
  const countFn = [
    'fn count(b: u32, e: u32) -> f32 {',
    '  var c = 0.0;',
    `  for (var t = b * ${S}u; t < (b + 1u) * ${S}u; t++) {`,
    `    ${loopU('j', k)} if (token_expert[${mulU('t', k)} + j] == i32(e)) { c += 1.0; } }`,
    '  }',
    '  return c;',
    '}',
  ].join('\n');
  const fw = new KernelWriter(ctx, 'sequence_balance_loss', 'forward');
  fw.bind('probs', probs, 'read');
  fw.bind('token_expert', te, 'read', 'i32');
  fw.bind('loss', ctx.tensor(op.outputs.loss), 'read_write');
  fw.declare(
    countFn,
    ['fn term(be: u32) -> f32 {', `  let b = be / ${E}u;`, `  let e = be % ${E}u;`, '  var p = 0.0;', `  for (var t = b * ${S}u; t < (b + 1u) * ${S}u; t++) { p += probs[t * ${E}u + e]; }`, '  return count(b, e) * p;', '}'].join('\n'),
  );
  // α/B · E/(k·S) · Σ_be c_be · (Σ_t p)/S
  const scale = (alpha / B) * (E / (k * S)) / S;
  writeReduce(fw, B * E, (be) => `term(${be})`, (sum) => [`loss[0] = ${f32(scale)} * ${sum};`]);
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.probs)) {
    const bw = new KernelWriter(ctx, 'sequence_balance_loss_backward', 'backward');
    bw.bind('token_expert', te, 'read', 'i32');
    bw.bind('d_loss', ctx.grad(op.outputs.loss), 'read');
    bw.bind('d_probs', ctx.grad(op.inputs.probs), 'read_write');
    bw.declare(countFn);
    bw.body(`let b = i / ${E}u;`, `let e = i % ${E}u;`, `let g = d_loss[0] * ${f32(scale)} * count(b, e);`, `for (var t = b * ${S}u; t < (b + 1u) * ${S}u; t++) { d_probs[t * ${E}u + e] += g; }`);
    backward.push(bw.finish1d(B * E));
  }
  return { forward: [fw.finishSingle(REDUCE_WG)], backward };
}

/** `cross_entropy`: mean_t (lse(logits[t]) − logits[t, target]). */
export function crossEntropyKernels(ctx: OpContext<OpOf<'cross_entropy'>>): Pair {
  const { op } = ctx;
  const [N, V] = ctx.shape(op.inputs.logits) as [number, number];
  const logits = ctx.tensor(op.inputs.logits);
  const targets = ctx.tensor(op.inputs.targets);
  const perToken = ctx.saved('token_loss', N);
  const ft = new KernelWriter(ctx, 'cross_entropy', 'forward');
  ft.bind('logits', logits, 'read');
  ft.bind('targets', targets, 'read', 'i32');
  ft.bind('token_loss', perToken, 'read_write');
  ft.declare(lseFn(V));
  ft.body(`token_loss[i] = lse(i) - logits[i * ${V}u + u32(targets[i])];`);
  const fr = new KernelWriter(ctx, 'cross_entropy_mean', 'forward');
  fr.bind('token_loss', perToken, 'read');
  fr.bind('loss', ctx.tensor(op.outputs.loss), 'read_write');
  writeReduce(fr, N, (t) => `token_loss[${t}]`, (sum) => [`loss[0] = ${sum} / ${f32(N)};`]);
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.logits)) {
    const bw = new KernelWriter(ctx, 'cross_entropy_backward', 'backward');
    bw.bind('logits', logits, 'read');
    bw.bind('targets', targets, 'read', 'i32');
    bw.bind('d_loss', ctx.grad(op.outputs.loss), 'read');
    bw.bind('d_logits', ctx.grad(op.inputs.logits), 'read_write');
    bw.declare(lseFn(V));
    bw.body(
      'let t = i;',
      'let l = lse(t);',
      `let scale = d_loss[0] / ${f32(N)};`,
      `for (var v = 0u; v < ${V}u; v++) { d_logits[t * ${V}u + v] += scale * exp(logits[t * ${V}u + v] - l); }`,
      `d_logits[t * ${V}u + u32(targets[t])] -= scale;`,
    );
    backward.push(bw.finish1d(N));
  }
  return { forward: [ft.finish1d(N), fr.finishSingle(REDUCE_WG)], backward };
}

/** `l1_loss`: λ · mean_t Σ_e |probs[t, e]|. */
export function l1LossKernels(ctx: OpContext<OpOf<'l1_loss'>>): Pair {
  const { op } = ctx;
  const [N, E] = ctx.shape(op.inputs.probs) as [number, number];
  const probs = ctx.tensor(op.inputs.probs);
  const coef = f32(op.attrs.lambda / N);
  const fw = new KernelWriter(ctx, 'l1_loss', 'forward');
  fw.bind('probs', probs, 'read');
  fw.bind('loss', ctx.tensor(op.outputs.loss), 'read_write');
  writeReduce(fw, N * E, (i) => `abs(probs[${i}])`, (sum) => [`loss[0] = ${coef} * ${sum};`]);
  const backward: Kernel[] = [];
  if (ctx.needsGrad(op.inputs.probs)) {
    const bw = new KernelWriter(ctx, 'l1_loss_backward', 'backward');
    bw.bind('probs', probs, 'read');
    bw.bind('d_loss', ctx.grad(op.outputs.loss), 'read');
    bw.bind('d_probs', ctx.grad(op.inputs.probs), 'read_write');
    bw.body(`d_probs[i] += d_loss[0] * ${coef} * sign(probs[i]);`);
    backward.push(bw.finish1d(N * E));
  }
  return { forward: [fw.finishSingle(REDUCE_WG)], backward };
}

/** `bias_update` (after each step): bias_e += γ · sign(mean(demand) − demand_e). */
export function biasUpdateKernels(ctx: OpContext<OpOf<'bias_update'>>): Pair {
  const { op } = ctx;
  const E = ctx.shape(op.inputs.demand)[0]!;
  const w = new KernelWriter(ctx, 'bias_update', 'forward');
  w.bind('demand', ctx.tensor(op.inputs.demand), 'read', 'i32');
  w.bind('bias', ctx.tensor(op.outputs.bias), 'read_write');
  // Compared in integers, Σ demand vs E·demand_e: a float mean would misjudge an expert exactly at the mean.
  w.body(
    'var total = 0;',
    `for (var e = 0u; e < ${E}u; e++) { total += demand[e]; }`,
    `bias[i] += ${f32(op.attrs.rate)} * f32(sign(total - ${E} * demand[i]));`,
  );
  return { forward: [w.finish1d(E)], backward: [] };
}

/** The kernel generators of this file's op kinds. */
export const LOSS_KERNELS: KernelTable<'balance_loss' | 'global_balance_loss' | 'z_loss' | 'sequence_balance_loss' | 'l1_loss' | 'cross_entropy' | 'bias_update'> = {
  global_balance_loss: globalBalanceLossKernels,
  l1_loss: l1LossKernels,
  balance_loss: balanceLossKernels,
  z_loss: zLossKernels,
  sequence_balance_loss: sequenceBalanceKernels,
  cross_entropy: crossEntropyKernels,
  bias_update: biasUpdateKernels,
};
