/**
 * The expert ops of docs/IR.md: expert_ffn (routed experts over gathered or
 * contiguous rows), combine (gates × expert outputs back to tokens) and the
 * mixing ops of Mixture of Tokens and Soft MoE (mix_weights, mix, unmix).
 */
import type { Graph, OpOf } from '../../../compiler/ir.ts';
import { softmax, softmaxBackward } from '../softmax.ts';
import type { RefGrads, RefValues } from '../values.ts';
import { OpContext, type OpTable } from './context.ts';
import { ffnRowBackward, ffnRowForward, ffnWeightGrads, readFfnWeights, type FfnWeights } from './ffn_row.ts';

// ---------------------------------------------------------------- expert_ffn

interface ExpertRows {
  readonly R: number;
  readonly Nx: number;
  readonly weights: FfnWeights;
  /** Per row: its expert, or −1 for an unused row (output 0). */
  readonly expert: Int32Array;
  /** Per row: the row of x it reads, or −1 for an unused row. */
  readonly source: Int32Array;
  /** gather: each token's rows in choice order, token_slot [Nx, K] (−1: none); contiguous: null. */
  readonly tokenSlot: { readonly K: number; readonly slots: Int32Array } | null;
}

/**
 * Which expert each row belongs to and which row of x feeds it. gather: row r
 * is expert e's when expert_offsets[e] ≤ r < expert_offsets[e+1] and reads
 * x[slot_token[r]] (rows past expert_offsets[E], and rows with slot_token −1,
 * are unused: docs/IR.md leaves their output unspecified, the reference
 * writes 0); contiguous: expert ⌊r / rows_per_expert⌋ reading x[r].
 * gather also takes token_slot, which must be the inverse of slot_token:
 * forward reads rows through slot_token and backward gathers them through
 * token_slot, so tables that disagree would make the two inconsistent.
 */
function expertRows(ctx: OpContext<OpOf<'expert_ffn'>>): ExpertRows {
  const weights = readFfnWeights(ctx);
  const E = weights.experts;
  const [Nx, d] = ctx.inDims('x', 2);
  ctx.check(d === weights.width, `x width ${d} differs from the weights' ${weights.width}`);
  const R = ctx.int('rows');
  const expert = new Int32Array(R).fill(-1);
  const source = new Int32Array(R).fill(-1);
  let tokenSlot: ExpertRows['tokenSlot'] = null;
  if (ctx.bool('gather')) {
    ctx.check(ctx.inDims('slot_token', 1)[0] === R, `slot_token must have ${R} rows`);
    ctx.check(ctx.inDims('expert_offsets', 1)[0] === E + 1, `expert_offsets must be [${E + 1}]`);
    const slotToken = ctx.i32('slot_token');
    const offsets = ctx.i32('expert_offsets');
    ctx.check(offsets[0] === 0 && offsets[E] <= R, `expert_offsets must start at 0 and end at most at ${R}`);
    for (let e = 0; e < E; e++) {
      ctx.check(offsets[e] <= offsets[e + 1], 'expert_offsets must not decrease');
      for (let r = offsets[e]; r < offsets[e + 1]; r++) expert[r] = e;
    }
    for (let r = 0; r < R; r++) {
      const t = slotToken[r];
      ctx.check(t >= -1 && t < Nx, `slot_token[${r}] = ${t} is not a row of x or −1`);
      ctx.check(t < 0 || expert[r] >= 0, `row ${r} holds token ${t} but lies past expert_offsets[${E}]`);
      if (t >= 0) source[r] = t;
      else expert[r] = -1; // an unused row inside an expert's range: no input, output 0
    }
    const [Nt, K] = ctx.inDims('token_slot', 2);
    ctx.check(Nt === Nx, `token_slot must have the ${Nx} rows of x`);
    const slots = ctx.i32('token_slot');
    let listed = 0;
    for (let t = 0; t < Nx; t++) {
      for (let j = 0; j < K; j++) {
        const r = slots[t * K + j];
        ctx.check(r >= -1 && r < R, `token_slot[${t}, ${j}] = ${r} is not a row or −1`);
        ctx.check(r < 0 || source[r] === t, `token_slot[${t}, ${j}] = ${r}, but that row holds token ${r >= 0 ? source[r] : -1}`);
        if (r >= 0) listed++;
      }
    }
    ctx.check(listed === source.filter((t) => t >= 0).length, 'token_slot does not list every used row exactly once');
    tokenSlot = { K, slots };
  } else {
    const perExpert = ctx.int('rows_per_expert');
    ctx.check(perExpert * E === R && Nx === R, `contiguous rows: x must have ${R} = ${E} experts × ${perExpert} rows`);
    for (let r = 0; r < R; r++) {
      expert[r] = Math.floor(r / perExpert);
      source[r] = r;
    }
  }
  return { R, Nx, weights, expert, source, tokenSlot };
}

/** out[r] = down_e · act(up_e · input_r) for every used row; unused rows are 0. */
function expertFfnForward(op: OpOf<'expert_ffn'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { R, weights, expert, source } = expertRows(ctx);
  const d = weights.width;
  const x = ctx.f64('x');
  const out = ctx.outF64('out', [R, d]);
  for (let r = 0; r < R; r++) {
    if (expert[r] >= 0) ffnRowForward(weights, expert[r], { data: x, offset: source[r] * d }, { data: out, offset: r * d });
  }
}

/**
 * The chain rule per row, giving d input[r]; weight gradients sum over each
 * expert's rows. gather: dx[t] += Σ_j d input[token_slot[t, j]], in choice
 * order as docs/IR.md states it; contiguous: dx[r] += d input[r].
 */
function expertFfnBackward(op: OpOf<'expert_ffn'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { R, Nx, weights, expert, source, tokenSlot } = expertRows(ctx);
  const d = weights.width;
  const x = ctx.f64('x');
  const dout = ctx.dy('out');
  const dx = ctx.dx('x');
  const dw = ffnWeightGrads(ctx);
  const dInput = new Float64Array(R * d);
  for (let r = 0; r < R; r++) {
    if (expert[r] < 0) continue;
    const input = { data: x, offset: source[r] * d };
    ffnRowBackward(weights, expert[r], input, { data: dout, offset: r * d }, { data: dInput, offset: r * d }, dw);
  }
  if (!dx) return;
  if (tokenSlot) {
    const { K, slots } = tokenSlot;
    for (let t = 0; t < Nx; t++) {
      for (let j = 0; j < K; j++) {
        const r = slots[t * K + j];
        if (r >= 0) for (let i = 0; i < d; i++) dx[t * d + i] += dInput[r * d + i];
      }
    }
  } else {
    for (let i = 0; i < R * d; i++) dx[i] += dInput[i];
  }
}

// ---------------------------------------------------------------- combine

function combineShape(ctx: OpContext<OpOf<'combine'>>): { N: number; K: number; R: number; d: number; slot: Int32Array } {
  const [R, d] = ctx.inDims('expert_out', 2);
  const [N, K] = ctx.inDims('token_slot', 2);
  if (ctx.hasInput('token_gate')) ctx.check(ctx.inShape('token_gate').join() === `${N},${K}`, `token_gate must be [${N}, ${K}]`);
  const slot = ctx.i32('token_slot');
  for (let i = 0; i < slot.length; i++) ctx.check(slot[i] >= -1 && slot[i] < R, `token_slot entry ${i} = ${slot[i]} is not a row of expert_out or −1`);
  return { N, K, R, d, slot };
}

/** The gates of combine, or ones when the gates were applied to the experts' inputs (no token_gate). */
function combineGates(ctx: OpContext<OpOf<'combine'>>, N: number, K: number): Float64Array {
  return ctx.hasInput('token_gate') ? ctx.f64('token_gate') : new Float64Array(N * K).fill(1);
}

/** y[t] = Σ_{j: token_slot[t,j] ≥ 0} token_gate[t, j] · expert_out[token_slot[t, j]] (gate 1 without token_gate). */
function combineForward(op: OpOf<'combine'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, K, d, slot } = combineShape(ctx);
  const out = ctx.f64('expert_out');
  const gate = combineGates(ctx, N, K);
  const y = ctx.outF64('y', [N, d]);
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < K; j++) {
      const r = slot[t * K + j];
      if (r < 0) continue; // dropped: contributes exactly 0
      for (let i = 0; i < d; i++) y[t * d + i] += gate[t * K + j] * out[r * d + i];
    }
  }
}

/** dexpert_out[slot] += gate·dy[t]; dtoken_gate[t, j] += dy[t]·expert_out[slot] (0 when dropped). */
function combineBackward(op: OpOf<'combine'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, K, d, slot } = combineShape(ctx);
  const out = ctx.f64('expert_out');
  const gate = combineGates(ctx, N, K);
  const dy = ctx.dy('y');
  const dout = ctx.dx('expert_out');
  const dgate = ctx.dx('token_gate');
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < K; j++) {
      const r = slot[t * K + j];
      if (r < 0) continue;
      for (let i = 0; i < d; i++) {
        if (dout) dout[r * d + i] += gate[t * K + j] * dy[t * d + i];
        if (dgate) dgate[t * K + j] += dy[t * d + i] * out[r * d + i];
      }
    }
  }
}

// ---------------------------------------------------------------- scale_rows

/** y[t] = scale[t]·x[t]. */
function scaleRowsForward(op: OpOf<'scale_rows'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [N, d] = ctx.inDims('x', 2);
  const x = ctx.f64('x');
  const scale = ctx.f64('scale');
  const y = ctx.outF64('y', [N, d]);
  for (let t = 0; t < N; t++) for (let i = 0; i < d; i++) y[t * d + i] = scale[t]! * x[t * d + i]!;
}

/** dx[t] += scale[t]·dy[t]; dscale[t] += dy[t]·x[t]. */
function scaleRowsBackward(op: OpOf<'scale_rows'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const [N, d] = ctx.inDims('x', 2);
  const x = ctx.f64('x');
  const scale = ctx.f64('scale');
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  const dscale = ctx.dx('scale');
  for (let t = 0; t < N; t++) {
    for (let i = 0; i < d; i++) {
      if (dx) dx[t * d + i] += scale[t]! * dy[t * d + i]!;
      if (dscale) dscale[t] += dy[t * d + i]! * x[t * d + i]!;
    }
  }
}

// ---------------------------------------------------------------- groups of the mixing ops

interface Groups {
  readonly N: number;
  /** The tokens of each group, in ascending order. */
  readonly members: readonly (readonly number[])[];
  /** Each token's group. */
  readonly groupOf: Int32Array;
}

/**
 * group G > 0 (Mixture of Tokens): group (b div G)·seq + s holds position s of
 * sequences (b div G)·G … (b div G)·G + G − 1; group 0 (Soft MoE): group b
 * holds sequence b.
 */
function readGroups(ctx: OpContext, N: number): Groups {
  const G = ctx.int('group');
  const batch = ctx.int('batch');
  const seq = ctx.int('seq');
  const groups = ctx.int('groups');
  ctx.check(batch * seq === N, `batch ${batch} × seq ${seq} must equal the ${N} tokens`);
  ctx.check(G >= 0 && (G === 0 || batch % G === 0), `group ${G} must be 0 or divide batch ${batch}`);
  ctx.check(groups === (G === 0 ? batch : (batch / G) * seq), `groups ${groups} does not match group ${G}, batch ${batch}, seq ${seq}`);
  const members: number[][] = Array.from({ length: groups }, () => []);
  const groupOf = new Int32Array(N);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      const u = b * seq + s;
      const g = G === 0 ? b : Math.floor(b / G) * seq + s;
      groupOf[u] = g;
      members[g]!.push(u);
    }
  }
  return { N, members, groupOf };
}

/** Slot s of group g lives at row e·(groups·p) + g·p + j of the expert rows, s = e·p + j. */
function slotRow(s: number, g: number, groups: number, p: number): number {
  return Math.floor(s / p) * groups * p + g * p + (s % p);
}

// ---------------------------------------------------------------- mix_weights

type Unmix = OpOf<'mix_weights'>['attrs']['unmix'];

/** Whether combine weights are a softmax over slots (else the dispatch weights); a Record over the attribute's type. */
const SLOT_SOFTMAX: Record<Unmix, boolean> = { dispatch: false, slot_softmax: true };

function mixWeightsShape(ctx: OpContext<OpOf<'mix_weights'>>): { N: number; S: number; groups: Groups; unmix: Unmix } {
  const [N, S] = ctx.inDims('logits', 2);
  const unmix = ctx.op.attrs.unmix;
  return { N, S, groups: readGroups(ctx, N), unmix };
}

/** dispatch[·, s] of group g = softmax over the group's tokens of logits[·, s]. */
function groupSoftmax(logits: Float64Array, S: number, members: readonly number[], s: number): Float64Array {
  return softmax(members.map((u) => logits[u * S + s]));
}

/** dispatch = softmax over each group's tokens, per slot; combine_weights = dispatch or softmax over slots. */
function mixWeightsForward(op: OpOf<'mix_weights'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, S, groups, unmix } = mixWeightsShape(ctx);
  const logits = ctx.f64('logits');
  const dispatch = ctx.outF64('dispatch', [N, S]);
  const combine = ctx.outF64('combine_weights', [N, S]);
  for (const members of groups.members) {
    for (let s = 0; s < S; s++) {
      const w = groupSoftmax(logits, S, members, s);
      members.forEach((u, i) => (dispatch[u * S + s] = w[i]));
    }
  }
  if (!SLOT_SOFTMAX[unmix]) combine.set(dispatch);
  else for (let u = 0; u < N; u++) combine.set(softmax(logits.subarray(u * S, (u + 1) * S)), u * S);
}

/** Softmax backward over each group (of ddispatch, plus dcombine_weights when they are the same weights) and over slots. */
function mixWeightsBackward(op: OpOf<'mix_weights'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, S, groups, unmix } = mixWeightsShape(ctx);
  const logits = ctx.f64('logits');
  const ddispatch = Float64Array.from(ctx.dy('dispatch'));
  const dcombine = ctx.dy('combine_weights');
  const dlogits = ctx.dx('logits');
  if (!dlogits) return;
  if (!SLOT_SOFTMAX[unmix]) for (let i = 0; i < ddispatch.length; i++) ddispatch[i] += dcombine[i];
  for (const members of groups.members) {
    for (let s = 0; s < S; s++) {
      const w = groupSoftmax(logits, S, members, s);
      const dz = softmaxBackward(w, members.map((u) => ddispatch[u * S + s]));
      members.forEach((u, i) => (dlogits[u * S + s] += dz[i]));
    }
  }
  if (SLOT_SOFTMAX[unmix]) {
    for (let u = 0; u < N; u++) {
      const p = softmax(logits.subarray(u * S, (u + 1) * S));
      const dz = softmaxBackward(p, dcombine.subarray(u * S, (u + 1) * S));
      for (let s = 0; s < S; s++) dlogits[u * S + s] += dz[s];
    }
  }
}

// ---------------------------------------------------------------- mix / unmix

interface MixShape {
  readonly N: number;
  readonly d: number;
  readonly S: number;
  readonly p: number;
  readonly rows: number;
  readonly groups: Groups;
}

/** Shapes shared by mix and unmix: tokens [N, d], weights [N, S], slot rows [E·groups·p, d]. */
function mixShape(ctx: OpContext, weightsRole: 'dispatch' | 'combine_weights', tokenRows: number, d: number): MixShape {
  const [N, S] = ctx.inDims(weightsRole, 2);
  ctx.check(N === tokenRows, `${weightsRole} has ${N} rows, the tokens ${tokenRows}`);
  const p = ctx.int('slots');
  ctx.check(p >= 1 && S % p === 0, `slots ${p} must divide the ${S} slot columns`);
  const groups = readGroups(ctx, N);
  return { N, d, S, p, rows: (S / p) * groups.members.length * p, groups };
}

/** slots_in[r(s, g)] = Σ_{u in g} dispatch[u, s] · x[u]. */
function mixForward(op: OpOf<'mix'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [Nx, d] = ctx.inDims('x', 2);
  const m = mixShape(ctx, 'dispatch', Nx, d);
  const x = ctx.f64('x');
  const dispatch = ctx.f64('dispatch');
  const slotsIn = ctx.outF64('slots_in', [m.rows, d]);
  const G = m.groups.members.length;
  for (let u = 0; u < m.N; u++) {
    for (let s = 0; s < m.S; s++) {
      const r = slotRow(s, m.groups.groupOf[u], G, m.p);
      for (let i = 0; i < d; i++) slotsIn[r * d + i] += dispatch[u * m.S + s] * x[u * d + i];
    }
  }
}

/** dx[u] += Σ_s dispatch[u, s]·dslots_in[r(s, g(u))]; ddispatch[u, s] += x[u]·dslots_in[r(s, g(u))]. */
function mixBackward(op: OpOf<'mix'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const [Nx, d] = ctx.inDims('x', 2);
  const m = mixShape(ctx, 'dispatch', Nx, d);
  const x = ctx.f64('x');
  const dispatch = ctx.f64('dispatch');
  const dslots = ctx.dy('slots_in');
  const dx = ctx.dx('x');
  const ddispatch = ctx.dx('dispatch');
  const G = m.groups.members.length;
  for (let u = 0; u < m.N; u++) {
    for (let s = 0; s < m.S; s++) {
      const r = slotRow(s, m.groups.groupOf[u], G, m.p);
      for (let i = 0; i < d; i++) {
        if (dx) dx[u * d + i] += dispatch[u * m.S + s] * dslots[r * d + i];
        if (ddispatch) ddispatch[u * m.S + s] += x[u * d + i] * dslots[r * d + i];
      }
    }
  }
}

function unmixShape(ctx: OpContext): MixShape {
  const [rows, d] = ctx.inDims('expert_out', 2);
  const m = mixShape(ctx, 'combine_weights', ctx.inDims('combine_weights', 2)[0], d);
  ctx.check(rows === m.rows, `expert_out must have ${m.rows} rows`);
  return m;
}

/** y[u] = Σ_s combine_weights[u, s] · expert_out[r(s, g(u))]. */
function unmixForward(op: OpOf<'unmix'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const m = unmixShape(ctx);
  const { d } = m;
  const out = ctx.f64('expert_out');
  const cw = ctx.f64('combine_weights');
  const y = ctx.outF64('y', [m.N, d]);
  const G = m.groups.members.length;
  for (let u = 0; u < m.N; u++) {
    for (let s = 0; s < m.S; s++) {
      const r = slotRow(s, m.groups.groupOf[u], G, m.p);
      for (let i = 0; i < d; i++) y[u * d + i] += cw[u * m.S + s] * out[r * d + i];
    }
  }
}

/** dexpert_out[r(s, g)] += Σ_{u in g} combine_weights[u, s]·dy[u]; dcombine_weights[u, s] += dy[u]·expert_out[r(s, g(u))]. */
function unmixBackward(op: OpOf<'unmix'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const m = unmixShape(ctx);
  const { d } = m;
  const out = ctx.f64('expert_out');
  const cw = ctx.f64('combine_weights');
  const dy = ctx.dy('y');
  const dout = ctx.dx('expert_out');
  const dcw = ctx.dx('combine_weights');
  const G = m.groups.members.length;
  for (let u = 0; u < m.N; u++) {
    for (let s = 0; s < m.S; s++) {
      const r = slotRow(s, m.groups.groupOf[u], G, m.p);
      for (let i = 0; i < d; i++) {
        if (dout) dout[r * d + i] += cw[u * m.S + s] * dy[u * d + i];
        if (dcw) dcw[u * m.S + s] += dy[u * d + i] * out[r * d + i];
      }
    }
  }
}

/** The expert and mixing ops, keyed by kind. */
export const EXPERT_OPS: OpTable<'expert_ffn' | 'combine' | 'scale_rows' | 'mix_weights' | 'mix' | 'unmix'> = {
  expert_ffn: { forward: expertFfnForward, backward: expertFfnBackward },
  combine: { forward: combineForward, backward: combineBackward },
  scale_rows: { forward: scaleRowsForward, backward: scaleRowsBackward },
  mix_weights: { forward: mixWeightsForward, backward: mixWeightsBackward },
  mix: { forward: mixForward, backward: mixBackward },
  unmix: { forward: unmixForward, backward: unmixBackward },
};
