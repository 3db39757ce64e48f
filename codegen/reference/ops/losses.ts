/**
 * The router losses of docs/IR.md (scalar outputs whose upstream gradient is
 * that of the objective, 1 unless given) and the loss-free balancing
 * bias_update, which runs after each step and is not differentiated.
 */
import type { Graph, OpOf } from '../../../compiler/ir.ts';
import { logSumExp, softmax } from '../softmax.ts';
import type { RefGrads, RefValues } from '../values.ts';
import { OpContext, type OpTable } from './context.ts';

// ---------------------------------------------------------------- balance_loss

/** f_e = demand_e / (N·k) and the constant factor α·E of the Switch balance loss. */
function balanceTerms(ctx: OpContext): { N: number; E: number; f: Float64Array; coef: number } {
  const [N, E] = ctx.inDims('probs', 2);
  ctx.check(ctx.inDims('demand', 1)[0] === E, `demand must be [${E}]`);
  const k = ctx.int('k');
  ctx.check(k >= 1, `k ${k} must be ≥ 1`);
  const demand = ctx.i32('demand');
  const f = Float64Array.from(demand, (c) => c / (N * k));
  return { N, E, f, coef: ctx.num('alpha') * E };
}

/** loss = α·E·Σ_e f_e·P_e, P_e = mean_t probs[t, e]. */
function balanceForward(op: OpOf<'balance_loss' | 'global_balance_loss'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, E, f, coef } = balanceTerms(ctx);
  const probs = ctx.f64('probs');
  let sum = 0;
  for (let e = 0; e < E; e++) {
    let P = 0;
    for (let t = 0; t < N; t++) P += probs[t * E + e];
    sum += (f[e] * P) / N;
  }
  ctx.outF64('loss', [1])[0] = coef * sum;
}

/** dprobs[t, e] += dloss·α·E·f_e / N (f counts selections: no gradient). */
function balanceBackward(op: OpOf<'balance_loss' | 'global_balance_loss'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, E, f, coef } = balanceTerms(ctx);
  const dloss = ctx.dy('loss')[0];
  const dprobs = ctx.dx('probs');
  if (!dprobs) return;
  for (let t = 0; t < N; t++) {
    for (let e = 0; e < E; e++) dprobs[t * E + e] += (dloss * coef * f[e]) / N;
  }
}

// ---------------------------------------------------------------- z_loss

/** loss = β · mean_t (logsumexp(logits[t]))². */
function zForward(op: OpOf<'z_loss'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [N, S] = ctx.inDims('logits', 2);
  const logits = ctx.f64('logits');
  let sum = 0;
  for (let t = 0; t < N; t++) sum += logSumExp(logits.subarray(t * S, (t + 1) * S)) ** 2;
  ctx.outF64('loss', [1])[0] = (ctx.num('beta') * sum) / N;
}

/** dlogits[t] += dloss·2β·lse_t·softmax(logits[t]) / N. */
function zBackward(op: OpOf<'z_loss'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const [N, S] = ctx.inDims('logits', 2);
  const logits = ctx.f64('logits');
  const beta = ctx.num('beta');
  const dloss = ctx.dy('loss')[0];
  const dlogits = ctx.dx('logits');
  if (!dlogits) return;
  for (let t = 0; t < N; t++) {
    const row = logits.subarray(t * S, (t + 1) * S);
    const lse = logSumExp(row);
    const p = softmax(row);
    for (let s = 0; s < S; s++) dlogits[t * S + s] += (dloss * 2 * beta * lse * p[s]) / N;
  }
}

// ---------------------------------------------------------------- sequence_balance_loss

/**
 * c_be, the number of choices of expert e in sequence b (−1 choices are
 * none), and the factor α/B · E/(k·S) of the DeepSeekMoE sequence balance
 * loss, S = seq.
 */
function sequenceTerms(ctx: OpContext): { B: number; S: number; E: number; counts: Float64Array; coef: number } {
  const [N, E] = ctx.inDims('probs', 2);
  const [Nt, kt] = ctx.inDims('token_expert', 2);
  const k = ctx.int('k');
  const B = ctx.int('batch');
  const S = ctx.int('seq');
  ctx.check(Nt === N && kt === k, `token_expert must be [${N}, ${k}]`);
  ctx.check(B * S === N, `batch ${B} × seq ${S} must equal the ${N} tokens`);
  const te = ctx.i32('token_expert');
  const counts = new Float64Array(B * E);
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < k; j++) {
      const e = te[t * k + j];
      ctx.check(e >= -1 && e < E, `token_expert[${t}, ${j}] = ${e} is not an expert of ${E} or −1`);
      if (e >= 0) counts[Math.floor(t / S) * E + e]++;
    }
  }
  return { B, S, E, counts, coef: (ctx.num('alpha') / B) * (E / (k * S)) };
}

/** loss = α · mean_b Σ_e (E/(k·S)) · c_be · P_be, P_be = mean_{t in b} probs[t, e]. */
function sequenceForward(op: OpOf<'sequence_balance_loss'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { B, S, E, counts, coef } = sequenceTerms(ctx);
  const probs = ctx.f64('probs');
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let e = 0; e < E; e++) {
      let P = 0;
      for (let s = 0; s < S; s++) P += probs[(b * S + s) * E + e];
      sum += (counts[b * E + e] * P) / S;
    }
  }
  ctx.outF64('loss', [1])[0] = coef * sum;
}

/** dprobs[t, e] += dloss·α/B · (E/(k·S)) · c_be / S for t in sequence b. */
function sequenceBackward(op: OpOf<'sequence_balance_loss'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { B, S, E, counts, coef } = sequenceTerms(ctx);
  const dloss = ctx.dy('loss')[0];
  const dprobs = ctx.dx('probs');
  if (!dprobs) return;
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      for (let e = 0; e < E; e++) dprobs[(b * S + s) * E + e] += (dloss * coef * counts[b * E + e]) / S;
    }
  }
}

// ---------------------------------------------------------------- l1_loss

/** loss = λ · mean_t Σ_e |probs[t, e]|. */
function l1Forward(op: OpOf<'l1_loss'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [N] = ctx.inDims('probs', 2);
  let sum = 0;
  for (const p of ctx.f64('probs')) sum += Math.abs(p);
  ctx.outF64('loss', [1])[0] = (op.attrs.lambda * sum) / N;
}

/** dprobs[t, e] += dloss·λ·sign(probs[t, e]) / N. */
function l1Backward(op: OpOf<'l1_loss'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const [N] = ctx.inDims('probs', 2);
  const probs = ctx.f64('probs');
  const dloss = ctx.dy('loss')[0]!;
  const dprobs = ctx.dx('probs');
  if (dprobs) for (let i = 0; i < probs.length; i++) dprobs[i] += (dloss * op.attrs.lambda * Math.sign(probs[i]!)) / N;
}

// ---------------------------------------------------------------- bias_update

/**
 * bias_e += γ · sign(mean(demand) − demand_e) (sign 0 = 0): experts chosen
 * less than average are favoured next step. The updated bias replaces the
 * state value in `values` (a new array; the old one is left as it was).
 */
function biasUpdateForward(op: OpOf<'bias_update'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [E] = ctx.inDims('demand', 1);
  const demand = ctx.i32('demand');
  const old = ctx.currentF64('bias');
  ctx.check(old.length === E, `bias must be [${E}]`);
  const rate = ctx.num('rate');
  // sign(mean − demand_e) = sign(Σ demand − E·demand_e), compared in exact integers so
  // that an expert at exactly the mean is left alone.
  let total = 0;
  for (let e = 0; e < E; e++) total += demand[e];
  const bias = ctx.outF64('bias', [E]);
  for (let e = 0; e < E; e++) bias[e] = old[e] + rate * Math.sign(total - E * demand[e]);
}

/** bias_update is a state update outside backprop: its only input is an integer count. */
function biasUpdateBackward(): void {}

/** The loss ops and the state update, keyed by kind. */
export const LOSS_OPS: OpTable<'balance_loss' | 'global_balance_loss' | 'z_loss' | 'sequence_balance_loss' | 'l1_loss' | 'bias_update'> = {
  // One micro-batch of global balance is the balance loss; its sums over a step's micro-batches are tested through training.
  global_balance_loss: { forward: balanceForward, backward: balanceBackward },
  l1_loss: { forward: l1Forward, backward: l1Backward },
  balance_loss: { forward: balanceForward, backward: balanceBackward },
  z_loss: { forward: zForward, backward: zBackward },
  sequence_balance_loss: { forward: sequenceForward, backward: sequenceBackward },
  bias_update: { forward: biasUpdateForward, backward: biasUpdateBackward },
};
