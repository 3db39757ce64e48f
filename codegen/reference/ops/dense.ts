/**
 * The dense model ops of docs/IR.md: embed, position_add, norm, linear, add,
 * activation, ffn and cross_entropy. Backward recomputes what it needs from
 * the inputs (never reads the op's outputs), so it can be run on its own.
 */
import type { Graph, OpOf } from '../../../compiler/ir.ts';
import { activationBackward, activationName, applyActivation, isGated, type ActivationName } from '../activations.ts';
import { logSumExp, softmax } from '../softmax.ts';
import type { RefGrads, RefValues } from '../values.ts';
import { OpContext, type OpTable } from './context.ts';
import { ffnRowBackward, ffnRowForward, ffnWeightGrads, readFfnWeights } from './ffn_row.ts';

// ---------------------------------------------------------------- embed

/** ids [N] i32, table [V, d] → y [N, d]: y[t] = table[ids[t]]. */
function embedIds(ctx: OpContext): { ids: Int32Array; V: number; d: number } {
  const [V, d] = ctx.inDims('table', 2);
  const ids = ctx.i32('ids');
  for (let t = 0; t < ids.length; t++) ctx.check(ids[t] >= 0 && ids[t] < V, `ids[${t}] = ${ids[t]} is outside the table's ${V} rows`);
  return { ids, V, d };
}

function embedForward(op: OpOf<'embed'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { ids, d } = embedIds(ctx);
  const table = ctx.f64('table');
  const y = ctx.outF64('y', [ids.length, d]);
  for (let t = 0; t < ids.length; t++) {
    for (let i = 0; i < d; i++) y[t * d + i] = table[ids[t] * d + i];
  }
}

/** dtable[v] += Σ_{t: ids[t] = v} dy[t]. */
function embedBackward(op: OpOf<'embed'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { ids, d } = embedIds(ctx);
  const dy = ctx.dy('y');
  const dtable = ctx.dx('table');
  if (!dtable) return;
  for (let t = 0; t < ids.length; t++) {
    for (let i = 0; i < d; i++) dtable[ids[t] * d + i] += dy[t * d + i];
  }
}

// ---------------------------------------------------------------- position_add

function positionShape(ctx: OpContext): { N: number; d: number; seq: number } {
  const [N, d] = ctx.inDims('x', 2);
  const [P, dt] = ctx.inDims('table', 2);
  const seq = ctx.int('seq');
  ctx.check(dt === d, `table width ${dt} differs from x width ${d}`);
  ctx.check(seq >= 1 && seq <= P, `seq ${seq} needs 1..${P} position rows`);
  return { N, d, seq };
}

/** y[t] = x[t] + table[t mod seq]. */
function positionForward(op: OpOf<'position_add'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, d, seq } = positionShape(ctx);
  const x = ctx.f64('x');
  const table = ctx.f64('table');
  const y = ctx.outF64('y', [N, d]);
  for (let t = 0; t < N; t++) {
    const s = t % seq;
    for (let i = 0; i < d; i++) y[t * d + i] = x[t * d + i] + table[s * d + i];
  }
}

/** dx += dy; dtable[s] += Σ_b dy[b·seq + s]. */
function positionBackward(op: OpOf<'position_add'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, d, seq } = positionShape(ctx);
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  const dtable = ctx.dx('table');
  for (let t = 0; t < N; t++) {
    const s = t % seq;
    for (let i = 0; i < d; i++) {
      if (dx) dx[t * d + i] += dy[t * d + i];
      if (dtable) dtable[s * d + i] += dy[t * d + i];
    }
  }
}

// ---------------------------------------------------------------- norm

interface NormRow {
  /** r = 1/sqrt(mean x² + eps) (rms) or 1/sqrt(var + eps) (layer). */
  readonly r: number;
  /** The normalised row: x·r (rms) or (x − μ)·r (layer). */
  readonly xhat: Float64Array;
}

type NormKind = OpOf<'norm'>['attrs']['kind'];

/** Whether a norm kind subtracts the mean (a Record over the kind's type: a new kind without an entry does not type-check). */
const CENTRED: Record<NormKind, boolean> = { rms: false, layer: true };

function normKind(ctx: OpContext<OpOf<'norm'>>): NormKind {
  return ctx.op.attrs.kind;
}

function normalizeRow(kind: NormKind, x: Float64Array, offset: number, d: number, eps: number): NormRow {
  let mean = 0;
  if (CENTRED[kind]) {
    for (let i = 0; i < d; i++) mean += x[offset + i];
    mean /= d;
  }
  let sq = 0;
  for (let i = 0; i < d; i++) sq += (x[offset + i] - mean) ** 2;
  const r = 1 / Math.sqrt(sq / d + eps);
  const xhat = new Float64Array(d);
  for (let i = 0; i < d; i++) xhat[i] = (x[offset + i] - mean) * r;
  return { r, xhat };
}

function normShape(ctx: OpContext): { N: number; d: number } {
  const [N, d] = ctx.inDims('x', 2);
  ctx.check(ctx.inDims('weight', 1)[0] === d, `weight must be [${d}]`);
  if (ctx.hasInput('bias')) ctx.check(ctx.inDims('bias', 1)[0] === d, `bias must be [${d}]`);
  return { N, d };
}

/**
 * rms: y = x·r·w; layer: y = x̂·w + b. A bias, when given, is added for
 * either kind (docs/IR.md lists it only for layer norm; lowering never gives
 * rms one).
 */
function normForward(op: OpOf<'norm'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const kind = normKind(ctx);
  const { N, d } = normShape(ctx);
  const x = ctx.f64('x');
  const w = ctx.f64('weight');
  const b = ctx.hasInput('bias') ? ctx.f64('bias') : null;
  const eps = ctx.num('eps');
  const y = ctx.outF64('y', [N, d]);
  for (let t = 0; t < N; t++) {
    const { xhat } = normalizeRow(kind, x, t * d, d, eps);
    for (let i = 0; i < d; i++) y[t * d + i] = xhat[i] * w[i] + (b ? b[i] : 0);
  }
}

/**
 * g = dy ⊙ w. rms: dx += r·g − x·r³·mean(g ⊙ x), written as
 * r·(g − x̂·mean(g ⊙ x̂)) with x̂ = x·r; layer: dx += r·(g − mean(g) − x̂·mean(g ⊙ x̂)).
 * dw += Σ_t dy ⊙ x̂; db += Σ_t dy.
 */
function normBackward(op: OpOf<'norm'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const kind = normKind(ctx);
  const { N, d } = normShape(ctx);
  const x = ctx.f64('x');
  const w = ctx.f64('weight');
  const eps = ctx.num('eps');
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  const dw = ctx.dx('weight');
  const db = ctx.dx('bias');
  for (let t = 0; t < N; t++) {
    const { r, xhat } = normalizeRow(kind, x, t * d, d, eps);
    let meanG = 0;
    let meanGXhat = 0;
    for (let i = 0; i < d; i++) {
      const g = dy[t * d + i] * w[i];
      meanG += g / d;
      meanGXhat += (g * xhat[i]) / d;
    }
    if (!CENTRED[kind]) meanG = 0; // rms does not subtract the mean, so its input has no mean term
    for (let i = 0; i < d; i++) {
      const dyi = dy[t * d + i];
      if (dx) dx[t * d + i] += r * (dyi * w[i] - meanG - xhat[i] * meanGXhat);
      if (dw) dw[i] += dyi * xhat[i];
      if (db) db[i] += dyi;
    }
  }
}

// ---------------------------------------------------------------- linear

function linearShape(ctx: OpContext): { M: number; K: number; O: number } {
  const [M, K] = ctx.inDims('x', 2);
  const [O, Kw] = ctx.inDims('weight', 2);
  ctx.check(Kw === K, `weight [${O}, ${Kw}] does not take x rows of ${K}`);
  return { M, K, O };
}

/** y = x·weightᵀ (weight [out, in]). */
function linearForward(op: OpOf<'linear'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { M, K, O } = linearShape(ctx);
  const x = ctx.f64('x');
  const w = ctx.f64('weight');
  const y = ctx.outF64('y', [M, O]);
  for (let m = 0; m < M; m++) {
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[o * K + k];
      y[m * O + o] = s;
    }
  }
}

/** dx += dy·weight; dweight += dyᵀ·x (a frozen weight gets none). */
function linearBackward(op: OpOf<'linear'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { M, K, O } = linearShape(ctx);
  const x = ctx.f64('x');
  const w = ctx.f64('weight');
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  const dw = ctx.dx('weight');
  for (let m = 0; m < M; m++) {
    for (let o = 0; o < O; o++) {
      const g = dy[m * O + o];
      for (let k = 0; k < K; k++) {
        if (dx) dx[m * K + k] += g * w[o * K + k];
        if (dw) dw[o * K + k] += g * x[m * K + k];
      }
    }
  }
}

// ---------------------------------------------------------------- add

function addSize(ctx: OpContext): number {
  ctx.check(ctx.inShape('a').join() === ctx.inShape('b').join(), 'a and b must have one shape');
  return ctx.f64('a').length;
}

/** y = a + b. */
function addForward(op: OpOf<'add'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const n = addSize(ctx);
  const a = ctx.f64('a');
  const b = ctx.f64('b');
  const y = ctx.outF64('y', ctx.inShape('a'));
  for (let i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/** da += dy; db += dy (the same tensor as a and b gets both). */
function addBackward(op: OpOf<'add'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const n = addSize(ctx);
  const dy = ctx.dy('y');
  for (const role of ['a', 'b'] as const) {
    const d = ctx.dx(role);
    if (d) for (let i = 0; i < n; i++) d[i] += dy[i];
  }
}

// ---------------------------------------------------------------- activation

function activationOf(ctx: OpContext<OpOf<'activation'>>): ActivationName {
  const name = activationName(ctx.op.attrs.activation, ctx.op.name);
  ctx.check(ctx.hasInput('gate') === isGated(name), `a gate input goes with swiglu only (activation ${name})`);
  if (ctx.hasInput('gate')) ctx.check(ctx.inShape('gate').join() === ctx.inShape('x').join(), 'gate must have the shape of x');
  return name;
}

/** y = act(x); swiglu: y = silu(gate) ⊙ x. */
function activationForward(op: OpOf<'activation'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const name = activationOf(ctx);
  const x = ctx.f64('x');
  const gate = ctx.hasInput('gate') ? ctx.f64('gate') : null;
  const y = ctx.outF64('y', ctx.inShape('x'));
  for (let i = 0; i < x.length; i++) y[i] = applyActivation(name, x[i], gate ? gate[i] : 0);
}

/** dx += dy·act'(x); swiglu: dx += dy·silu(gate), dgate += dy·x·silu'(gate). */
function activationOpBackward(op: OpOf<'activation'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const name = activationOf(ctx);
  const x = ctx.f64('x');
  const gate = ctx.hasInput('gate') ? ctx.f64('gate') : null;
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  const dgate = ctx.dx('gate');
  for (let i = 0; i < x.length; i++) {
    const { dUp, dGate } = activationBackward(name, x[i], gate ? gate[i] : 0, dy[i]);
    if (dx) dx[i] += dUp;
    if (dgate) dgate[i] += dGate;
  }
}

// ---------------------------------------------------------------- ffn

function ffnShape(ctx: OpContext<OpOf<'ffn'>>): { N: number; weights: ReturnType<typeof readFfnWeights> } {
  const weights = readFfnWeights(ctx);
  const [N, d] = ctx.inDims('x', 2);
  ctx.check(d === weights.width, `x width ${d} differs from the weights' ${weights.width}`);
  ctx.check(ctx.int('experts') === weights.experts, `attribute experts ${ctx.int('experts')} differs from the weights' ${weights.experts}`);
  return { N, weights };
}

/** y = Σ_k down_k · act(up_k · x), K = `experts` FFNs (dense: K = 1; shared experts). */
function ffnForward(op: OpOf<'ffn'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, weights } = ffnShape(ctx);
  const d = weights.width;
  const x = ctx.f64('x');
  const y = ctx.outF64('y', [N, d]);
  for (let t = 0; t < N; t++) {
    for (let k = 0; k < weights.experts; k++) ffnRowForward(weights, k, { data: x, offset: t * d }, { data: y, offset: t * d });
  }
}

/** The chain rule through each of the K FFNs, every one fed dy. */
function ffnBackward(op: OpOf<'ffn'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, weights } = ffnShape(ctx);
  const d = weights.width;
  const x = ctx.f64('x');
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  const dw = ffnWeightGrads(ctx);
  for (let t = 0; t < N; t++) {
    for (let k = 0; k < weights.experts; k++) {
      ffnRowBackward(weights, k, { data: x, offset: t * d }, { data: dy, offset: t * d }, dx ? { data: dx, offset: t * d } : null, dw);
    }
  }
}

// ---------------------------------------------------------------- cross_entropy

function crossEntropyShape(ctx: OpContext): { N: number; V: number; targets: Int32Array } {
  const [N, V] = ctx.inDims('logits', 2);
  const targets = ctx.i32('targets');
  ctx.check(targets.length === N, `targets must be [${N}]`);
  for (let t = 0; t < N; t++) ctx.check(targets[t] >= 0 && targets[t] < V, `targets[${t}] = ${targets[t]} is outside 0..${V - 1}`);
  return { N, V, targets };
}

/** loss = mean_t (logsumexp(logits[t]) − logits[t, targets[t]]). */
function crossEntropyForward(op: OpOf<'cross_entropy'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, V, targets } = crossEntropyShape(ctx);
  const logits = ctx.f64('logits');
  let sum = 0;
  for (let t = 0; t < N; t++) {
    const row = logits.subarray(t * V, (t + 1) * V);
    sum += logSumExp(row) - row[targets[t]];
  }
  ctx.outF64('loss', [1])[0] = sum / N;
}

/** dlogits[t] += dloss·(softmax(logits[t]) − onehot(targets[t])) / N. */
function crossEntropyBackward(op: OpOf<'cross_entropy'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, V, targets } = crossEntropyShape(ctx);
  const logits = ctx.f64('logits');
  const dloss = ctx.dy('loss')[0];
  const dlogits = ctx.dx('logits');
  if (!dlogits) return;
  for (let t = 0; t < N; t++) {
    const p = softmax(logits.subarray(t * V, (t + 1) * V));
    for (let v = 0; v < V; v++) dlogits[t * V + v] += (dloss * (p[v] - (v === targets[t] ? 1 : 0))) / N;
  }
}

/** The dense ops, keyed by kind. */
export const DENSE_OPS: OpTable<'embed' | 'position_add' | 'norm' | 'linear' | 'add' | 'activation' | 'ffn' | 'cross_entropy'> = {
  embed: { forward: embedForward, backward: embedBackward },
  position_add: { forward: positionForward, backward: positionBackward },
  norm: { forward: normForward, backward: normBackward },
  linear: { forward: linearForward, backward: linearBackward },
  add: { forward: addForward, backward: addBackward },
  activation: { forward: activationForward, backward: activationOpBackward },
  ffn: { forward: ffnForward, backward: ffnBackward },
  cross_entropy: { forward: crossEntropyForward, backward: crossEntropyBackward },
};
