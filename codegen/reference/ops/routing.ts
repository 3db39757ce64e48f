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
  readonly scale: number;
  /** [N, k]: each token's picks in the order taken, −1 where a cut stopped early. */
  readonly experts: Int32Array;
}

/**
 * A group's score from the ranking scores of its experts: the best one, or
 * the sum of the best two.
 */
function groupScore(r: Float64Array, from: number, size: number, how: OpOf<'select_top_k'>['attrs']['group_score']): number {
  const sorted = Array.from(r.subarray(from, from + size)).sort((a, b) => b - a);
  return ({ max: sorted[0]!, sum_top2: sorted[0]! + sorted[1]! } satisfies Record<typeof how, number>)[how];
}

/**
 * Each token's picks, written independently of the WGSL kernel (sorting, not
 * its repeated scans): rank the candidates by descending ranking score
 * (`rank` or probs, plus bias; ties to the lower index), after keeping only
 * the best groups; take at most k, stopping where the cut says.
 */
function selectTopK(ctx: OpContext<OpOf<'select_top_k'>>): TopK {
  const [N, E] = ctx.inDims('probs', 2);
  const { k, weights, groups: G, top_groups: keep, group_score: how, cut, cut_value: cutValue, scale } = ctx.op.attrs;
  ctx.check(k >= 1 && k <= E, `k ${k} must be in 1..${E}`);
  ctx.check(E % G === 0 && keep >= 1 && keep <= G, `${G} groups (keeping ${keep}) must divide the ${E} experts`);
  const probs = ctx.f64('probs');
  const ranking = ctx.hasInput('rank') ? ctx.f64('rank') : probs;
  const bias = ctx.hasInput('bias') ? ctx.f64('bias') : null;
  if (bias) ctx.check(bias.length === E, `bias must be [${E}]`);
  const size = E / G;
  if (ctx.hasInput('replay')) {
    // Routing replay: the picks are given.
    const replay = ctx.i32('replay');
    for (const e of replay) ctx.check(e >= -1 && e < E, `replay holds ${e}, not an expert of ${E} or −1`);
    return { N, E, k, renormalized: weights === 'renormalized', scale, experts: Int32Array.from(replay) };
  }
  const experts = new Int32Array(N * k).fill(-1);
  const byScore = (r: Float64Array) => (a: number, b: number) => (r[a]! > r[b]! ? -1 : r[a]! < r[b]! ? 1 : a - b);
  for (let t = 0; t < N; t++) {
    const r = Float64Array.from({ length: E }, (_, e) => ranking[t * E + e]! + (bias ? bias[e]! : 0));
    let candidates = Array.from({ length: E }, (_, e) => e);
    if (G > 1) {
      const gs = Float64Array.from({ length: G }, (_, g) => groupScore(r, g * size, size, how));
      const kept = new Set(Array.from({ length: G }, (_, g) => g).sort(byScore(gs)).slice(0, keep));
      candidates = candidates.filter((e) => kept.has(Math.floor(e / size)));
    }
    candidates.sort(byScore(r));
    let total = 0;
    for (let j = 0; j < k && j < candidates.length; j++) {
      const e = candidates[j]!;
      if (cut === 'threshold' && !(probs[t * E + e]! > cutValue)) break;
      experts[t * k + j] = e;
      total += probs[t * E + e]!;
      if (cut === 'top_p' && total >= cutValue) break;
    }
  }
  return { N, E, k, renormalized: ({ raw: false, renormalized: true } satisfies Record<typeof weights, boolean>)[weights], scale, experts };
}

/** The sum of probs over each token's picks. */
function pickedSums(probs: Float64Array, { N, E, k, experts }: TopK): Float64Array {
  const sums = new Float64Array(N);
  for (let t = 0; t < N; t++) for (let j = 0; j < k; j++) if (experts[t * k + j]! >= 0) sums[t] += probs[t * E + experts[t * k + j]!]!;
  return sums;
}

/** token_expert: the picks; token_gate = scale · probs[t, e_j] (the unbiased score), renormalized: / Σ over the picks. */
function selectTopKForward(op: OpOf<'select_top_k'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const sel = selectTopK(ctx);
  const { N, E, k, renormalized, scale, experts } = sel;
  const probs = ctx.f64('probs');
  ctx.outI32('token_expert', [N, k]).set(experts);
  const gate = ctx.outF64('token_gate', [N, k]);
  const sums = pickedSums(probs, sel);
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < k; j++) {
      const e = experts[t * k + j]!;
      // All-zero picks (ReLU scores, a threshold that kept nothing) keep their raw gates of 0.
      if (e >= 0) gate[t * k + j] = (scale * probs[t * E + e]!) / (renormalized && sums[t]! > 0 ? sums[t]! : 1);
    }
  }
}

/** raw: dprobs[t, e_j] += scale·dgate_j; renormalized (ĝ_j = p_j/Σ): dprobs[t, e_j] += scale·(dgate_j − Σ_i dgate_i·ĝ_i)/Σ. */
function selectTopKBackward(op: OpOf<'select_top_k'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const sel = selectTopK(ctx);
  const { N, E, k, renormalized, scale, experts } = sel;
  const probs = ctx.f64('probs');
  const dgate = ctx.dy('token_gate');
  // The ranking scores only decide which experts are picked: their gradient is 0 (almost everywhere).
  ctx.dx('rank');
  const dprobs = ctx.dx('probs');
  if (!dprobs) return;
  const sums = pickedSums(probs, sel);
  for (let t = 0; t < N; t++) {
    const picks = Array.from({ length: k }, (_, j) => j).filter((j) => experts[t * k + j]! >= 0);
    const renorm = renormalized && sums[t]! > 0;
    let dot = 0; // Σ_i dgate_i·ĝ_i
    if (renorm) for (const j of picks) dot += (dgate[t * k + j]! * probs[t * E + experts[t * k + j]!]!) / sums[t]!;
    for (const j of picks) {
      const e = experts[t * k + j]!;
      dprobs[t * E + e] += scale * (renorm ? (dgate[t * k + j]! - dot) / sums[t]! : dgate[t * k + j]!);
    }
  }
}

// ---------------------------------------------------------------- assign

/**
 * Capacity and rows, written independently of the WGSL kernel: every real
 * choice is listed per (expert, scope) in priority order — 1st choices in
 * token order, then 2nd choices, … — and, for by_probability, stably sorted
 * by descending gate; the first `capacity` of each list are kept. Kept
 * choices take their expert's rows in priority order. Choices of null
 * experts (index ≥ experts) are counted and kept but get no row.
 */
function assignForward(op: OpOf<'assign'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [N, k] = ctx.inDims('token_expert', 2);
  const { experts: E, capacity, rows: R, null_experts: nulls, drop, seq } = op.attrs;
  const all = E + nulls;
  ctx.check(capacity >= 0, `capacity ${capacity} must be ≥ 0 (0 = none)`);
  ctx.check(seq === 0 || N % seq === 0, `seq ${seq} must divide the ${N} tokens`);
  const te = ctx.i32('token_expert');
  const gates = drop === 'by_probability' ? ctx.f64('token_gate') : null;
  const demand = ctx.outI32('demand', [all]);
  const load = ctx.outI32('load', [all]);
  const tokenSlot = ctx.outI32('token_slot', [N, k]);
  tokenSlot.fill(-1);
  // Real choices per (expert, scope), each list in priority order.
  const lists = new Map<string, number[]>();
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < N; t++) {
      const at = t * k + j;
      const e = te[at]!;
      ctx.check(e >= -1 && e < all, `token_expert[${t}, ${j}] = ${e} is not an expert of ${all} or −1`);
      if (e < 0) continue;
      demand[e]++;
      if (e >= E) {
        load[e]++; // a null expert: kept, computes nothing
        continue;
      }
      const key = `${e}/${seq > 0 ? Math.floor(t / seq) : 0}`;
      if (!lists.has(key)) lists.set(key, []);
      lists.get(key)!.push(at);
    }
  }
  const kept = new Uint8Array(N * k);
  for (const list of lists.values()) {
    // Array.prototype.sort is stable: equal gates stay in priority order.
    if (gates) list.sort((a, b) => gates[b]! - gates[a]!);
    for (const at of capacity > 0 ? list.slice(0, capacity) : list) kept[at] = 1;
  }
  const rank = new Int32Array(N * k).fill(-1);
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < N; t++) {
      const at = t * k + j;
      if (kept[at]) rank[at] = load[te[at]!]++;
    }
  }
  const offsets = ctx.outI32('expert_offsets', [E + 1]);
  for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e]! + load[e]!;
  ctx.check(offsets[E]! <= R, `${offsets[E]} kept choices do not fit in ${R} rows`);
  const slotToken = ctx.outI32('slot_token', [R]);
  slotToken.fill(-1);
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < k; j++) {
      if (rank[t * k + j]! < 0) continue;
      const row = offsets[te[t * k + j]!]! + rank[t * k + j]!;
      tokenSlot[t * k + j] = row;
      slotToken[row] = t;
    }
  }
}

/** assign has only integer outputs: nothing to differentiate. The gates only order choices (by_probability): gradient 0. */
function assignBackward(op: OpOf<'assign'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  new OpContext(op, graph, values, grads).dx('token_gate');
}

/** Sinkhorn's scores only rank experts (a stop-gradient, as in BASE layers): gradient 0. */
function sinkhornBackward(op: OpOf<'sinkhorn'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  new OpContext(op, graph, values, grads).dx('logits');
}

// ---------------------------------------------------------------- sinkhorn

/** balanced = diag(d0)·exp(z − rowmax)·diag(d1) after a fixed number of alternating normalisations. */
function sinkhornForward(op: OpOf<'sinkhorn'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [N, E] = ctx.inDims('logits', 2);
  const z = ctx.f64('logits');
  const c = new Float64Array(N * E);
  for (let t = 0; t < N; t++) {
    const row = z.subarray(t * E, (t + 1) * E);
    const m = Math.max(...row);
    for (let e = 0; e < E; e++) c[t * E + e] = Math.exp(row[e]! - m);
  }
  const d0 = new Float64Array(N);
  const d1 = new Float64Array(E).fill(1);
  for (let it = 0; it < op.attrs.iterations; it++) {
    for (let t = 0; t < N; t++) {
      let s = 0;
      for (let e = 0; e < E; e++) s += d1[e]! * c[t * E + e]!;
      d0[t] = 1 / N / (s + 1e-8);
    }
    for (let e = 0; e < E; e++) {
      let s = 0;
      for (let t = 0; t < N; t++) s += d0[t]! * c[t * E + e]!;
      d1[e] = 1 / E / (s + 1e-8);
    }
  }
  const out = ctx.outF64('balanced', [N, E]);
  for (let t = 0; t < N; t++) for (let e = 0; e < E; e++) out[t * E + e] = d0[t]! * c[t * E + e]! * d1[e]!;
}

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
export const ROUTING_OPS: OpTable<'router' | 'sinkhorn' | 'select_top_k' | 'select_top_c' | 'select_all' | 'assign'> = {
  router: { forward: routerForward, backward: routerBackward },
  sinkhorn: { forward: sinkhornForward, backward: sinkhornBackward },
  select_top_k: { forward: selectTopKForward, backward: selectTopKBackward },
  select_top_c: { forward: selectTopCForward, backward: selectTopCBackward },
  select_all: { forward: selectAllForward, backward: selectAllBackward },
  assign: { forward: assignForward, backward: assignBackward },
};
