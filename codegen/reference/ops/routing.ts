/**
 * The routing ops of docs/IR.md: router (logits and scores), the three
 * selections (select_top_k, select_top_c, select_all) and assign (capacity,
 * slots and per-expert offsets). Selections are integer outputs and are not
 * differentiated; gates are, through the score values they copy.
 */
import type { Graph, OpOf } from '../../../compiler/ir.ts';
import { SCORE_FUNCTIONS } from '../../../compiler/score_functions.ts';
import type { ScalarFn } from '../../rowmath/expr.ts';
import { compileScalarFn } from '../../rowmath/functions.ts';
import { SCORES, type ScoreName } from '../../rowmath/scores.ts';
import { erf } from '../erf.ts';
import { softmax, softmaxBackward } from '../softmax.ts';
import type { RefGrads, RefValues } from '../values.ts';
import { OpContext, type OpTable } from './context.ts';

// ---------------------------------------------------------------- router

interface RouterEval {
  readonly N: number;
  readonly d: number;
  readonly S: number;
  readonly tau: number;
  /** (x·weightᵀ)/τ, [N, S]. */
  readonly logits: Float64Array;
  /** How `probs` is made from the logits, or null when the op has no `probs` output. */
  readonly scores: ScoreName | null;
}

/**
 * The router's logits and score function. Jitter is refused: the reference
 * is only ever compared with jitter off (docs/IR.md), and a noisy oracle
 * could not be compared with anything.
 */
function evalRouter(ctx: OpContext<OpOf<'router'>>): RouterEval {
  const jitter = ctx.numOr('jitter', 0);
  ctx.check(jitter === 0, `jitter ${jitter} > 0: the reference evaluates routers with jitter off only (comparisons run with jitter 0)`);
  const [N, d] = ctx.inDims('x', 2);
  const [S, dw] = ctx.inDims('weight', 2);
  ctx.check(dw === d, `weight [${S}, ${dw}] does not take x rows of ${d}`);
  const learned = ctx.bool('learn_temperature');
  ctx.check(learned === ctx.hasInput('log_temperature'), 'a log_temperature input goes with learn_temperature true, and only with it');
  const tau = learned ? Math.exp(ctx.f64('log_temperature')[0]) : ctx.num('temperature');
  ctx.check(tau > 0 && Number.isFinite(tau), `temperature ${tau} must be positive`);

  let scores: RouterEval['scores'] = null;
  if (ctx.hasOutput('probs')) {
    // docs/IR.md: probs = softmax over experts (normalize per_token) or σ (normalize none).
    const { normalize, score } = ctx.op.attrs;
    ctx.check(normalize === SCORE_FUNCTIONS[score].normalize, `probs with score ${score} needs normalize ${SCORE_FUNCTIONS[score].normalize} (got ${normalize})`);
    scores = score;
  }

  const x = ctx.f64('x');
  const w = ctx.f64('weight');
  const logits = new Float64Array(N * S);
  for (let t = 0; t < N; t++) {
    for (let s = 0; s < S; s++) {
      let z = 0;
      for (let i = 0; i < d; i++) z += x[t * d + i] * w[s * d + i];
      logits[t * S + s] = z / tau;
    }
  }
  return { N, d, S, tau, logits, scores };
}

/** The scores of one token's logits, by the score function's shape (codegen/rowmath/scores.ts). */
function scoreRow(kind: ScoreName, z: Float64Array): Float64Array {
  const def = SCORES[kind];
  switch (def.shape) {
    case 'row_softmax':
      return softmax(z);
    case 'elementwise': {
      const f = compiled(def.forward);
      return z.map((v) => f(v));
    }
  }
}

/** The gradient of the logits of one token from its scores p and their gradient dp. */
function scoreRowBackward(kind: ScoreName, p: Float64Array, dp: Float64Array): Float64Array {
  const def = SCORES[kind];
  switch (def.shape) {
    case 'row_softmax':
      return softmaxBackward(p, dp);
    case 'elementwise': {
      const grad = compiled(def.grad);
      return p.map((pi, s) => grad(pi, dp[s]!));
    }
  }
}

/** The score table's scalar functions, compiled once on first use. */
const COMPILED = new Map<ScalarFn, (...a: number[]) => number>();
function compiled(f: ScalarFn): (...a: number[]) => number {
  let c = COMPILED.get(f);
  if (!c) COMPILED.set(f, (c = compileScalarFn(f, erf)));
  return c;
}

/** logits = (x·weightᵀ)/τ; probs = softmax(logits[t]) or σ(logits). */
function routerForward(op: OpOf<'router'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const r = evalRouter(ctx);
  ctx.outF64('logits', [r.N, r.S]).set(r.logits);
  if (r.scores) {
    const probs = ctx.outF64('probs', [r.N, r.S]);
    for (let t = 0; t < r.N; t++) probs.set(scoreRow(r.scores, r.logits.subarray(t * r.S, (t + 1) * r.S)), t * r.S);
  }
}

/**
 * dz = dlogits + (softmax: p ⊙ (dp − Σ p·dp); sigmoid: dp·p(1−p)); dr = dz/τ;
 * dx += dr·weight; dweight += drᵀ·x; learned τ: dlog_temperature += −Σ dz ⊙ logits.
 */
function routerBackward(op: OpOf<'router'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const r = evalRouter(ctx);
  const { N, d, S, tau, logits } = r;
  const dz = Float64Array.from(ctx.dy('logits'));
  if (r.scores) {
    const dprobs = ctx.dy('probs');
    for (let t = 0; t < N; t++) {
      const z = logits.subarray(t * S, (t + 1) * S);
      const p = scoreRow(r.scores, z);
      const dp = dprobs.subarray(t * S, (t + 1) * S);
      const back = scoreRowBackward(r.scores, p, dp);
      for (let s = 0; s < S; s++) dz[t * S + s] += back[s];
    }
  }
  const x = ctx.f64('x');
  const w = ctx.f64('weight');
  const dx = ctx.dx('x');
  const dw = ctx.dx('weight');
  const dlogTau = ctx.dx('log_temperature');
  for (let t = 0; t < N; t++) {
    for (let s = 0; s < S; s++) {
      const dr = dz[t * S + s] / tau;
      for (let i = 0; i < d; i++) {
        if (dx) dx[t * d + i] += dr * w[s * d + i];
        if (dw) dw[s * d + i] += dr * x[t * d + i];
      }
      if (dlogTau) dlogTau[0] -= dz[t * S + s] * logits[t * S + s];
    }
  }
}

// ---------------------------------------------------------------- select_top_k

interface TopK {
  readonly N: number;
  readonly E: number;
  readonly k: number;
  readonly renormalized: boolean;
  /** [N, k]: each token's experts in descending order of probs + bias. */
  readonly experts: Int32Array;
}

/** Each token's k experts by descending probs + bias; ties go to the lower expert index. */
function selectTopK(ctx: OpContext<OpOf<'select_top_k'>>): TopK {
  const [N, E] = ctx.inDims('probs', 2);
  const k = ctx.int('k');
  ctx.check(k >= 1 && k <= E, `k ${k} must be in 1..${E}`);
  const weights = ctx.op.attrs.weights;
  const probs = ctx.f64('probs');
  const bias = ctx.hasInput('bias') ? ctx.f64('bias') : null;
  if (bias) ctx.check(bias.length === E, `bias must be [${E}]`);
  const experts = new Int32Array(N * k);
  for (let t = 0; t < N; t++) {
    const taken = new Array<boolean>(E).fill(false);
    for (let j = 0; j < k; j++) {
      // Scanning upwards and replacing only on a strictly larger value keeps the lower index on ties.
      let best = -1;
      let bestScore = -Infinity;
      for (let e = 0; e < E; e++) {
        const score = probs[t * E + e] + (bias ? bias[e] : 0);
        if (!taken[e] && (best < 0 || score > bestScore)) {
          best = e;
          bestScore = score;
        }
      }
      taken[best] = true;
      experts[t * k + j] = best;
    }
  }
  return { N, E, k, renormalized: ({ raw: false, renormalized: true } satisfies Record<typeof weights, boolean>)[weights], experts };
}

/** token_expert: the selection; token_gate = probs[t, e_j] (the unbiased score), renormalized: / Σ_j probs[t, e_j]. */
function selectTopKForward(op: OpOf<'select_top_k'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, E, k, renormalized, experts } = selectTopK(ctx);
  const probs = ctx.f64('probs');
  ctx.outI32('token_expert', [N, k]).set(experts);
  const gate = ctx.outF64('token_gate', [N, k]);
  for (let t = 0; t < N; t++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += probs[t * E + experts[t * k + j]];
    for (let j = 0; j < k; j++) gate[t * k + j] = probs[t * E + experts[t * k + j]] / (renormalized ? sum : 1);
  }
}

/** raw: dprobs[t, e_j] += dgate_j; renormalized (g_j = p_j/Σ): dprobs[t, e_j] += (dgate_j − Σ_i dgate_i·g_i)/Σ. */
function selectTopKBackward(op: OpOf<'select_top_k'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, E, k, renormalized, experts } = selectTopK(ctx);
  const probs = ctx.f64('probs');
  const dgate = ctx.dy('token_gate');
  const dprobs = ctx.dx('probs');
  if (!dprobs) return;
  for (let t = 0; t < N; t++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += probs[t * E + experts[t * k + j]];
    let dot = 0; // Σ_i dgate_i·g_i
    if (renormalized) for (let j = 0; j < k; j++) dot += (dgate[t * k + j] * probs[t * E + experts[t * k + j]]) / sum;
    for (let j = 0; j < k; j++) {
      const e = experts[t * k + j];
      dprobs[t * E + e] += renormalized ? (dgate[t * k + j] - dot) / sum : dgate[t * k + j];
    }
  }
}

// ---------------------------------------------------------------- assign

/**
 * demand[e] counts every choice of e (−1 choices are none); slots are filled
 * in priority order (every token's 1st choice in token order, then every 2nd
 * choice, …), dropping a choice whose expert already holds `capacity`; the
 * p-th kept choice of e gets row expert_offsets[e] + p.
 */
function assignForward(op: OpOf<'assign'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [N, k] = ctx.inDims('token_expert', 2);
  const E = ctx.int('experts');
  const capacity = ctx.int('capacity');
  const R = ctx.int('rows');
  ctx.check(capacity >= 0, `capacity ${capacity} must be ≥ 0 (0 = none)`);
  const te = ctx.i32('token_expert');
  const demand = ctx.outI32('demand', [E]);
  const load = ctx.outI32('load', [E]);
  const tokenSlot = ctx.outI32('token_slot', [N, k]);
  tokenSlot.fill(-1);
  // Rank of each kept choice within its expert, in priority order (−1: none or dropped).
  const rank = new Int32Array(N * k).fill(-1);
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < N; t++) {
      const e = te[t * k + j];
      ctx.check(e >= -1 && e < E, `token_expert[${t}, ${j}] = ${e} is not an expert of ${E} or −1`);
      if (e < 0) continue;
      demand[e]++;
      if (capacity > 0 && load[e] >= capacity) continue; // dropped: past the expert's capacity
      rank[t * k + j] = load[e]++;
    }
  }
  const offsets = ctx.outI32('expert_offsets', [E + 1]);
  for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e] + load[e];
  ctx.check(offsets[E] <= R, `${offsets[E]} kept choices do not fit in ${R} rows`);
  const slotToken = ctx.outI32('slot_token', [R]);
  slotToken.fill(-1);
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < k; j++) {
      if (rank[t * k + j] < 0) continue;
      const row = offsets[te[t * k + j]] + rank[t * k + j];
      tokenSlot[t * k + j] = row;
      slotToken[row] = t;
    }
  }
}

/** assign has only integer outputs: nothing to differentiate. */
function noBackward(): void {}

// ---------------------------------------------------------------- select_top_c / select_all

/** The outputs select_top_c and select_all share with assign, allocated and checked. */
function expertTables(ctx: OpContext, N: number, E: number, rows: number) {
  const tables = {
    tokenExpert: ctx.outI32('token_expert', [N, E]),
    tokenGate: ctx.outF64('token_gate', [N, E]),
    tokenSlot: ctx.outI32('token_slot', [N, E]),
    slotToken: ctx.outI32('slot_token', [rows]),
    offsets: ctx.outI32('expert_offsets', [E + 1]),
    load: ctx.outI32('load', [E]),
    demand: ctx.outI32('demand', [E]),
  };
  tables.tokenExpert.fill(-1);
  tables.tokenSlot.fill(-1);
  tables.slotToken.fill(-1);
  return tables;
}

/** For each expert e, its c tokens with the largest probs[:, e] in taking order; ties go to the lower token index. */
function selectTopC(ctx: OpContext): { N: number; E: number; c: number; chosen: Int32Array } {
  const [N, E] = ctx.inDims('probs', 2);
  const c = ctx.int('c');
  ctx.check(c >= 1 && c <= N, `c ${c} must be in 1..${N}`);
  const probs = ctx.f64('probs');
  const chosen = new Int32Array(E * c);
  for (let e = 0; e < E; e++) {
    const order = Array.from({ length: N }, (_, t) => t);
    // Descending score; equal scores in ascending token order.
    order.sort((a, b) => {
      const pa = probs[a * E + e];
      const pb = probs[b * E + e];
      return pa > pb ? -1 : pa < pb ? 1 : a - b;
    });
    for (let i = 0; i < c; i++) chosen[e * c + i] = order[i];
  }
  return { N, E, c, chosen };
}

/** Expert e's i-th token goes to row e·c + i; token_gate = probs where taken, else 0. */
function selectTopCForward(op: OpOf<'select_top_c'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, E, c, chosen } = selectTopC(ctx);
  const probs = ctx.f64('probs');
  const out = expertTables(ctx, N, E, E * c);
  for (let e = 0; e < E; e++) {
    out.offsets[e] = e * c;
    out.load[e] = c;
    out.demand[e] = c;
    for (let i = 0; i < c; i++) {
      const t = chosen[e * c + i];
      out.tokenExpert[t * E + e] = e;
      out.tokenSlot[t * E + e] = e * c + i;
      out.tokenGate[t * E + e] = probs[t * E + e];
      out.slotToken[e * c + i] = t;
    }
  }
  out.offsets[E] = E * c;
}

/** dprobs[t, e] += dgate[t, e] where e took t. */
function selectTopCBackward(op: OpOf<'select_top_c'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { E, c, chosen } = selectTopC(ctx);
  const dgate = ctx.dy('token_gate');
  const dprobs = ctx.dx('probs');
  if (!dprobs) return;
  for (let e = 0; e < E; e++) {
    for (let i = 0; i < c; i++) {
      const t = chosen[e * c + i];
      dprobs[t * E + e] += dgate[t * E + e];
    }
  }
}

/** Every expert takes every token: token_expert[t, e] = e, gate = probs, row e·N + t. */
function selectAllForward(op: OpOf<'select_all'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [N, E] = ctx.inDims('probs', 2);
  const probs = ctx.f64('probs');
  const out = expertTables(ctx, N, E, E * N);
  out.tokenGate.set(probs);
  for (let e = 0; e < E; e++) {
    out.offsets[e] = e * N;
    out.load[e] = N;
    out.demand[e] = N;
    for (let t = 0; t < N; t++) {
      out.tokenExpert[t * E + e] = e;
      out.tokenSlot[t * E + e] = e * N + t;
      out.slotToken[e * N + t] = t;
    }
  }
  out.offsets[E] = E * N;
}

/** dprobs += dgate. */
function selectAllBackward(op: OpOf<'select_all'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const dgate = ctx.dy('token_gate');
  const dprobs = ctx.dx('probs');
  if (dprobs) for (let i = 0; i < dprobs.length; i++) dprobs[i] += dgate[i];
}

/** The routing ops, keyed by kind. */
export const ROUTING_OPS: OpTable<'router' | 'select_top_k' | 'select_top_c' | 'select_all' | 'assign'> = {
  router: { forward: routerForward, backward: routerBackward },
  select_top_k: { forward: selectTopKForward, backward: selectTopKBackward },
  select_top_c: { forward: selectTopCForward, backward: selectTopCBackward },
  select_all: { forward: selectAllForward, backward: selectAllBackward },
  assign: { forward: assignForward, backward: noBackward },
};
