/**
 * One table describing every IR op kind: what it computes and its forward
 * FLOPs. `moec info` and `moec compare` read it; docs/IR.md has the full math.
 */
import type { Graph, Op, OpKind } from './ir.ts';

export interface OpInfo {
  /** One line: the math, in the notation of docs/ROUTING.md and docs/MODEL.md. */
  readonly doc: string;
  /** Forward floating-point operations of one op instance. */
  readonly flops: (op: Op, g: Graph) => number;
}

const dim = (g: Graph, t: string | undefined, i: number): number => {
  if (!t) return 0;
  const s = g.tensors.get(t)?.shape ?? [];
  return s.at(i) ?? 1;
};
const rows = (g: Graph, op: Op, name: string): number => dim(g, op.inputs[name] ?? op.outputs[name], 0);
const n = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** Rows an expert FFN really processes on average (drops and padding excluded). */
function expectedExpertRows(op: Op, g: Graph): number {
  const bound = n(op.attrs.rows);
  if (!op.attrs.gather) return bound;
  const tokenSlot = [...g.ops].find((o) => o.outputs.token_slot && o.outputs.slot_token === op.inputs.slot_token);
  const choices = tokenSlot ? dim(g, tokenSlot.outputs.token_slot, 0) * dim(g, tokenSlot.outputs.token_slot, 1) : bound;
  return Math.min(bound, choices);
}

function ffnFlops(tokens: number, d: number, h: number, gated: boolean): number {
  return tokens * 2 * d * h * (gated ? 3 : 2);
}

export const OPS: Record<OpKind, OpInfo> = {
  embed: { doc: 'y[t] = table[ids[t]]', flops: () => 0 },
  position_add: { doc: 'y[t] = x[t] + table[t mod seq]', flops: (op, g) => rows(g, op, 'x') * dim(g, op.inputs.x, 1) },
  norm: {
    doc: 'rms: y = x / sqrt(mean(x²) + eps) · w;  layer: y = (x - mean) / sqrt(var + eps) · w + b',
    flops: (op, g) => 6 * rows(g, op, 'x') * dim(g, op.inputs.x, 1),
  },
  linear: {
    doc: 'y = x · weightᵀ  (weight [out, in])',
    flops: (op, g) => 2 * rows(g, op, 'x') * dim(g, op.inputs.x, 1) * dim(g, op.inputs.weight, 0),
  },
  rotary: { doc: 'rotate each (even, odd) pair of q and k by position · base^(-2i/head)', flops: (op, g) => 6 * rows(g, op, 'x') * dim(g, op.inputs.x, 1) },
  attention: {
    doc: 'causal softmax(q kᵀ / sqrt(head)) v per sequence and head',
    flops: (op, g) => {
      const S = n(op.attrs.seq);
      const d = dim(g, op.outputs.y, 1);
      return 2 * 2 * n(op.attrs.batch) * d * ((S * (S + 1)) / 2);
    },
  },
  add: { doc: 'y = a + b', flops: (op, g) => rows(g, op, 'a') * dim(g, op.inputs.a, 1) },
  ffn: {
    doc: 'y = Σ_k down_k · act(up_k · x)  (gated: act(gate_k x) ⊙ up_k x); k over `experts` FFNs',
    flops: (op, g) => ffnFlops(rows(g, op, 'x'), dim(g, op.inputs.x, 1), dim(g, op.inputs.up, 1) * n(op.attrs.experts), !!op.inputs.gate),
  },
  router: {
    doc: 'z = (x · weightᵀ) / τ;  probs = softmax_experts(z) | sigmoid(z)  (mixing routers: logits only)',
    flops: (op, g) => {
      const N = rows(g, op, 'x');
      const S = dim(g, op.inputs.weight, 0);
      return 2 * N * dim(g, op.inputs.x, 1) * S + 5 * N * S;
    },
  },
  select_top_k: { doc: 'each token takes its k highest (probs + bias); gate = probs (renormalized: / Σ selected)', flops: (op, g) => rows(g, op, 'probs') * dim(g, op.inputs.probs, 1) * n(op.attrs.k) },
  select_top_c: { doc: 'each expert takes its c highest-scoring tokens; gate = probs', flops: (op, g) => rows(g, op, 'probs') * dim(g, op.inputs.probs, 1) * 4 },
  select_all: { doc: 'every expert takes every token; gate = probs', flops: () => 0 },
  assign: { doc: 'per-expert slots in priority order (choice rank, then token); past capacity: dropped', flops: () => 0 },
  expert_ffn: {
    doc: 'out[r] = down_e · act(up_e · x[slot_token[r]]) for the rows r of expert e',
    flops: (op, g) => ffnFlops(expectedExpertRows(op, g), dim(g, op.inputs.up, 2), dim(g, op.inputs.up, 1), !!op.inputs.gate),
  },
  combine: { doc: 'y[t] = Σ_j token_gate[t,j] · expert_out[token_slot[t,j]]  (dropped: 0)', flops: (op, g) => 2 * rows(g, op, 'token_slot') * dim(g, op.inputs.token_slot, 1) * dim(g, op.inputs.expert_out, 1) },
  mix_weights: { doc: 'dispatch = softmax over the tokens of each group; combine = dispatch | softmax over slots', flops: (op, g) => 10 * rows(g, op, 'logits') * dim(g, op.inputs.logits, 1) },
  mix: { doc: 'slots_in[e, g, j] = Σ_{u in g} dispatch[u, (e,j)] · x[u]', flops: (op, g) => 2 * rows(g, op, 'x') * dim(g, op.inputs.dispatch, 1) * dim(g, op.inputs.x, 1) },
  unmix: { doc: 'y[u] = Σ_s combine_weights[u, s] · expert_out[(e(s), g(u), j(s))]', flops: (op, g) => 2 * rows(g, op, 'combine_weights') * dim(g, op.inputs.combine_weights, 1) * dim(g, op.inputs.expert_out, 1) },
  activation: {
    doc: 'y = act(x); swiglu: y = silu(gate) ⊙ x',
    flops: (op, g) => 8 * rows(g, op, 'x') * dim(g, op.inputs.x, 1),
  },
  ia3_scale: {
    doc: 'y[t] = x[t] ⊙ Σ_j token_gate[t,j] · scale[token_expert[t,j]]  (MoV)',
    flops: (op, g) => 2 * rows(g, op, 'x') * dim(g, op.inputs.x, 1) * (dim(g, op.inputs.token_expert, 1) + 1),
  },
  lora_linear: {
    doc: 'y[t] = weight x[t] + scale · Σ_j token_gate[t,j] · B_e A_e x[t], e = token_expert[t,j]  (MoLoRA; weight frozen)',
    flops: (op, g) => {
      const N = rows(g, op, 'x');
      const k = dim(g, op.inputs.token_expert, 1);
      const r = dim(g, op.inputs.lora_a, 1);
      const inp = dim(g, op.inputs.x, 1);
      const out = dim(g, op.inputs.weight, 0);
      return 2 * N * inp * out + 2 * N * k * r * (inp + out);
    },
  },
  balance_loss: { doc: 'α · E · Σ_e f_e · P_e, f_e = demand_e / (N k), P_e = mean_t probs[t,e]', flops: (op, g) => 2 * rows(g, op, 'probs') * dim(g, op.inputs.probs, 1) },
  z_loss: { doc: 'β · mean_t logsumexp(logits[t])²', flops: (op, g) => 4 * rows(g, op, 'logits') * dim(g, op.inputs.logits, 1) },
  sequence_balance_loss: { doc: 'α · mean_b Σ_e (E / (k S)) · count_be · mean_{t in b} probs[t,e]', flops: (op, g) => 2 * rows(g, op, 'probs') * dim(g, op.inputs.probs, 1) },
  cross_entropy: { doc: 'mean_t (logsumexp(logits[t]) - logits[t, target[t]])', flops: (op, g) => 4 * rows(g, op, 'logits') * dim(g, op.inputs.logits, 1) },
  bias_update: { doc: 'bias_e += γ · sign(mean(demand) - demand_e), after each step', flops: () => 0 },
};
