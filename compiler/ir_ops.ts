/**
 * One table describing every IR op kind: what it computes, its forward FLOPs,
 * and the kernels the code generator emits for it (forward and backward).
 * `moec info`, the IR dump, and the kernel-plan tests all read this table.
 */
import type { Graph, Op, OpKind } from './ir.ts';

export interface OpInfo {
  /** One line: the math, in the notation of docs/ROUTING.md and docs/MODEL.md. */
  readonly doc: string;
  /** Forward floating-point operations of one op instance. */
  readonly flops: (op: Op, g: Graph) => number;
  /** Kernel names of the forward pass, in dispatch order. */
  readonly forward: readonly string[];
  /** Kernel names of the backward pass, in dispatch order (empty: not differentiated). */
  readonly backward: readonly string[];
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
  embed: { doc: 'y[t] = table[ids[t]]', flops: () => 0, forward: ['embed'], backward: ['embed_grad_table'] },
  position_add: { doc: 'y[t] = x[t] + table[t mod seq]', flops: (op, g) => rows(g, op, 'x') * dim(g, op.inputs.x, 1), forward: ['position_add'], backward: ['position_grad_table'] },
  norm: {
    doc: 'rms: y = x / sqrt(mean(x²) + eps) · w;  layer: y = (x - mean) / sqrt(var + eps) · w + b',
    flops: (op, g) => 6 * rows(g, op, 'x') * dim(g, op.inputs.x, 1),
    forward: ['norm'],
    backward: ['norm_grad_input', 'norm_grad_params'],
  },
  linear: {
    doc: 'y = x · weightᵀ  (weight [out, in])',
    flops: (op, g) => 2 * rows(g, op, 'x') * dim(g, op.inputs.x, 1) * dim(g, op.inputs.weight, 0),
    forward: ['matmul'],
    backward: ['matmul_grad_input', 'matmul_grad_weight'],
  },
  rotary: { doc: 'rotate each (even, odd) pair of q and k by position · base^(-2i/head)', flops: (op, g) => 6 * rows(g, op, 'x') * dim(g, op.inputs.x, 1), forward: ['rotary'], backward: ['rotary_backward'] },
  attention: {
    doc: 'causal softmax(q kᵀ / sqrt(head)) v per sequence and head',
    flops: (op, g) => {
      const S = n(op.attrs.seq);
      const d = dim(g, op.outputs.y, 1);
      return 2 * 2 * n(op.attrs.batch) * d * ((S * (S + 1)) / 2);
    },
    forward: ['attention'],
    backward: ['attention_backward_scores', 'attention_grad_qkv'],
  },
  add: { doc: 'y = a + b', flops: (op, g) => rows(g, op, 'a') * dim(g, op.inputs.a, 1), forward: ['add'], backward: ['add_backward'] },
  ffn: {
    doc: 'y = Σ_k down_k · act(up_k · x)  (gated: act(gate_k x) ⊙ up_k x); k over `experts` FFNs',
    flops: (op, g) => ffnFlops(rows(g, op, 'x'), dim(g, op.inputs.x, 1), dim(g, op.inputs.up, 1) * n(op.attrs.experts), !!op.inputs.gate),
    forward: ['ffn_up', 'ffn_down'],
    backward: ['ffn_down_grad_hidden', 'ffn_down_grad_weight', 'ffn_up_grad_input', 'ffn_up_grad_weight'],
  },
  router: {
    doc: 'z = (x · weightᵀ) / τ;  probs = softmax_experts(z) | sigmoid(z)  (mixing routers: logits only)',
    flops: (op, g) => {
      const N = rows(g, op, 'x');
      const S = dim(g, op.inputs.weight, 0);
      return 2 * N * dim(g, op.inputs.x, 1) * S + 5 * N * S;
    },
    forward: ['router'],
    backward: ['router_grad_logits', 'router_grad_input', 'router_grad_weight'],
  },
  select_top_k: { doc: 'each token takes its k highest (probs + bias); gate = probs (renormalized: / Σ selected)', flops: (op, g) => rows(g, op, 'probs') * dim(g, op.inputs.probs, 1) * n(op.attrs.k), forward: ['select_top_k'], backward: ['select_grad_probs'] },
  select_top_c: { doc: 'each expert takes its c highest-scoring tokens; gate = probs', flops: (op, g) => rows(g, op, 'probs') * dim(g, op.inputs.probs, 1) * 4, forward: ['select_top_c'], backward: ['select_grad_probs'] },
  select_all: { doc: 'every expert takes every token; gate = probs', flops: () => 0, forward: ['select_all'], backward: ['select_grad_probs'] },
  assign: { doc: 'per-expert slots in priority order (choice rank, then token); past capacity: dropped', flops: () => 0, forward: ['assign'], backward: [] },
  expert_ffn: {
    doc: 'out[r] = down_e · act(up_e · x[slot_token[r]]) for the rows r of expert e',
    flops: (op, g) => ffnFlops(expectedExpertRows(op, g), dim(g, op.inputs.up, 2), dim(g, op.inputs.up, 1), !!op.inputs.gate),
    forward: ['expert_up', 'expert_down'],
    backward: ['expert_down_grad_hidden', 'expert_down_grad_weight', 'expert_up_grad_input', 'expert_up_grad_weight'],
  },
  combine: { doc: 'y[t] = Σ_j token_gate[t,j] · expert_out[token_slot[t,j]]  (dropped: 0)', flops: (op, g) => 2 * rows(g, op, 'token_slot') * dim(g, op.inputs.token_slot, 1) * dim(g, op.inputs.expert_out, 1), forward: ['combine'], backward: ['combine_grad_out', 'combine_grad_gate'] },
  mix_weights: { doc: 'dispatch = softmax over the tokens of each group; combine = dispatch | softmax over slots', flops: (op, g) => 10 * rows(g, op, 'logits') * dim(g, op.inputs.logits, 1), forward: ['mix_weights'], backward: ['mix_weights_backward'] },
  mix: { doc: 'slots_in[e, g, j] = Σ_{u in g} dispatch[u, (e,j)] · x[u]', flops: (op, g) => 2 * rows(g, op, 'x') * dim(g, op.inputs.dispatch, 1) * dim(g, op.inputs.x, 1), forward: ['mix'], backward: ['mix_grad_input', 'mix_grad_dispatch'] },
  unmix: { doc: 'y[u] = Σ_s combine_weights[u, s] · expert_out[(e(s), g(u), j(s))]', flops: (op, g) => 2 * rows(g, op, 'combine_weights') * dim(g, op.inputs.combine_weights, 1) * dim(g, op.inputs.expert_out, 1), forward: ['unmix'], backward: ['unmix_grad_out', 'unmix_grad_weights'] },
  activation: {
    doc: 'y = act(x); swiglu: y = silu(gate) ⊙ x',
    flops: (op, g) => 8 * rows(g, op, 'x') * dim(g, op.inputs.x, 1),
    forward: ['activation'],
    backward: ['activation_backward'],
  },
  ia3_scale: {
    doc: 'y[t] = x[t] ⊙ Σ_j token_gate[t,j] · scale[token_expert[t,j]]  (MoV)',
    flops: (op, g) => 2 * rows(g, op, 'x') * dim(g, op.inputs.x, 1) * (dim(g, op.inputs.token_expert, 1) + 1),
    forward: ['ia3_scale'],
    backward: ['ia3_grad_input', 'ia3_grad_scale'],
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
    forward: ['lora_down_project', 'lora_linear'],
    backward: ['lora_grad_input', 'lora_grad_a', 'lora_grad_b'],
  },
  balance_loss: { doc: 'α · E · Σ_e f_e · P_e, f_e = demand_e / (N k), P_e = mean_t probs[t,e]', flops: (op, g) => 2 * rows(g, op, 'probs') * dim(g, op.inputs.probs, 1), forward: ['balance_loss'], backward: ['balance_loss_backward'] },
  z_loss: { doc: 'β · mean_t logsumexp(logits[t])²', flops: (op, g) => 4 * rows(g, op, 'logits') * dim(g, op.inputs.logits, 1), forward: ['z_loss'], backward: ['z_loss_backward'] },
  sequence_balance_loss: { doc: 'α · mean_b Σ_e (E / (k S)) · count_be · mean_{t in b} probs[t,e]', flops: (op, g) => 2 * rows(g, op, 'probs') * dim(g, op.inputs.probs, 1), forward: ['sequence_balance_loss'], backward: ['sequence_balance_loss_backward'] },
  cross_entropy: { doc: 'mean_t (logsumexp(logits[t]) - logits[t, target[t]])', flops: (op, g) => 4 * rows(g, op, 'logits') * dim(g, op.inputs.logits, 1), forward: ['cross_entropy'], backward: ['cross_entropy_backward'] },
  bias_update: { doc: 'bias_e += γ · sign(mean(demand) - demand_e), after each step', flops: () => 0, forward: ['bias_update'], backward: [] },
};
