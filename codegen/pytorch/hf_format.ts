/**
 * `moec export --format hf`: a spec that is an instance of a model family
 * inference engines know, written as that family's config.json and weight
 * names. Two families fit moec's transformer exactly:
 *
 * - Mixtral (MixtralForCausalLM): every block MoE, top-k of a softmax over
 *   the experts, gates renormalised over the picks, dropless, SwiGLU
 *   experts, no shared experts.
 * - Qwen2-MoE (Qwen2MoeForCausalLM): the same router with renormalised or
 *   raw gates, one sigmoid-gated shared expert (moec's K shared experts are
 *   one expert of K·hidden units), dense blocks as `mlp_only_layers`.
 *
 * Both need RMSNorm and rotary positions. Everything else is refused with
 * what differs and what to change; the family that looks closest to
 * DeepSeek-V3's router (sigmoid, selection bias, groups, shared experts) is
 * refused because DeepSeek-V3's attention is multi-head latent attention,
 * which moec's attention cannot be written as.
 *
 * This file decides the family and says, per HF tensor, which moec tensor
 * it comes from and how; the command does the reading and writing.
 */
import type { Graph } from '../../compiler/ir.ts';
import { lowerModel } from '../../compiler/lower.ts';
import { moeDefinitions, type ModelSpec, type MoeFfnSpec } from '../../compiler/spec.ts';

export type HfFamily = 'mixtral' | 'qwen2_moe';

/** How one HF tensor is made from moec's tensors (`get` returns a moec tensor by name, row-major). */
export interface HfTensor {
  readonly name: string;
  readonly shape: readonly number[];
  make(get: (moecName: string) => Float32Array): Float32Array;
}

export interface HfPlan {
  readonly family: HfFamily;
  readonly config: Record<string, unknown>;
  readonly tensors: readonly HfTensor[];
}

/** Why a spec has no HF family, and what would give it one. */
export interface HfRefusal {
  readonly problems: readonly string[];
  readonly hint: string;
}

/** The rotary convention: moec turns column pairs (2i, 2i+1) of a head, HF's rotate_half pairs (i, i + D/2). */
function rotaryRowOrder(heads: number, D: number): number[] {
  const order: number[] = [];
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < D / 2; i++) order.push(h * D + 2 * i);
    for (let i = 0; i < D / 2; i++) order.push(h * D + 2 * i + 1);
  }
  return order;
}

/** Rows `rows` (in that order) of a [*, cols] matrix. */
function takeRows(src: Float32Array, cols: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => out.set(src.subarray(r * cols, (r + 1) * cols), i * cols));
  return out;
}

const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);

/** What keeps a spec's MoE layer out of the two families (empty: it fits); `family` picks the extra rules. */
function routerProblems(moe: MoeFfnSpec, family: HfFamily): string[] {
  const r = moe.routing;
  const p: string[] = [];
  const need = (ok: boolean, what: string) => ok || p.push(what);
  need(r.select === 'token_choice', `routing is ${r.select}; the families route by token choice (top-k)`);
  need(r.score === 'softmax' && r.normalize === 'per_token', `the score is ${r.score} (${r.normalize}); the families use a softmax over the experts`);
  need(r.capacityFactor === null, 'experts have a capacity (tokens can be dropped); the families are dropless: `capacity none`');
  need(moe.experts.kind === 'full', `experts are ${moe.experts.kind} adapters; the families have full FFN experts`);
  need(moe.experts.activation === 'swiglu', `experts use ${moe.experts.activation}; the families' experts are SwiGLU`);
  need(!r.groups, 'group-limited routing (`groups`) is not in the families');
  need(!r.cut, `the ${r.cut?.kind} cut is not in the families`);
  need(r.nullExperts === 0, 'null experts are not in the families');
  need(r.scale === 1, '`routed_scale` is not in the families');
  need(r.sinkhorn === 0, 'Sinkhorn ranking is not in the families');
  need(r.applyGates === 'output', '`apply_gates input` is not in the families');
  need(r.temperature === 1 && !r.learnTemperature, 'a router temperature is not in the families');
  need(r.losses.biasRate === 0, 'the selection bias of loss-free balancing is not in the families (DeepSeek-V3 has one; see the hint)');
  if (family === 'mixtral') {
    need(r.weights === 'renormalized' || r.scoreAfterTopK, 'gates are raw scores; Mixtral renormalises them over the picks (`weights renormalized`)');
    need(!moe.shared, 'Mixtral has no shared experts (Qwen2-MoE has one)');
  } else if (moe.shared) {
    need(moe.shared.activation === 'swiglu', `the shared experts use ${moe.shared.activation}; Qwen2-MoE's shared expert is SwiGLU`);
  }
  return p;
}

/** The family a spec fits, or why it fits none. */
export function hfFamilyOf(spec: ModelSpec): { family: HfFamily } | HfRefusal {
  const defs = moeDefinitions(spec);
  const model: string[] = [];
  if (spec.norm !== 'rms') model.push(`norm ${spec.norm}: the families use RMSNorm (\`norm rms\`)`);
  if (spec.position !== 'rotary') model.push(`position ${spec.position}: the families use rotary positions (\`position rotary\`)`);
  if (!defs.length) return { problems: [...model, 'the model has no MoE layer'], hint: 'a dense model is exported with --target pytorch alone' };
  if (defs.length > 1) model.push(`blocks differ in their MoE layers (${defs.length} definitions); an HF config describes one MoE layer for every block`);
  const moe = defs[0]!.moe;
  const dense = spec.layers.filter((l) => l.kind === 'dense');
  const denseActs = new Set(dense.map((l) => (l.kind === 'dense' ? `${l.activation}/${l.hidden}` : '')));
  const deepseek = moe.routing.score === 'sigmoid' && (moe.routing.losses.biasRate > 0 || !!moe.routing.groups);
  const hint = deepseek
    ? "the router is DeepSeek-V3's, but DeepSeek-V3 checkpoints use multi-head latent attention, which moec's attention cannot be written as; use the PyTorch export without --format hf"
    : 'the Mixtral family: `position rotary`, every block MoE, `experts N { activation swiglu }`, `route token_choice { top_k K  capacity none  weights renormalized }`; Qwen2-MoE also allows raw gates, `shared 1 { gate sigmoid }` and dense blocks';
  const mixtral = [...model, ...routerProblems(moe, 'mixtral'), ...(dense.length ? ['Mixtral has no dense blocks (Qwen2-MoE does)'] : [])];
  if (!mixtral.length) return { family: 'mixtral' };
  const qwen = [...model, ...routerProblems(moe, 'qwen2_moe')];
  if (dense.length && (denseActs.size > 1 || ![...denseActs][0]!.startsWith('swiglu/'))) qwen.push('dense blocks must all be SwiGLU FFNs of one size for Qwen2-MoE');
  if (!qwen.length) return { family: 'qwen2_moe' };
  // Report against the family that needs fewer changes.
  return { problems: mixtral.length <= qwen.length ? mixtral : qwen, hint };
}

/** The config.json and tensor plan of a spec that fits `family`. */
export function hfPlan(spec: ModelSpec, family: HfFamily): HfPlan {
  const graph = lowerModel(spec);
  const shape = (n: string) => [...graph.tensors.get(n)!.shape];
  const moe = moeDefinitions(spec)[0]!.moe;
  const d = spec.width;
  const H = spec.heads;
  const D = d / H;
  const firstMoe = spec.layers.findIndex((l) => l.kind === 'moe');
  const [E, hidden] = shape(`blocks.${firstMoe}.moe.experts.up.weight`) as [number, number, number];
  const k = selectK(graph, firstMoe);
  const renormalized = moe.routing.weights === 'renormalized' || moe.routing.scoreAfterTopK;
  const tensors: HfTensor[] = [];
  const copy = (name: string, from: string) => tensors.push({ name, shape: shape(from), make: (get) => get(from).slice() });
  const rows = (name: string, from: string, cols: number, order: readonly number[]) => tensors.push({ name, shape: [order.length, cols], make: (get) => takeRows(get(from), cols, order) });
  /** Expert e of an [E, a, b] stack. */
  const expert = (name: string, from: string, e: number) => {
    const [, a, b] = shape(from) as [number, number, number];
    tensors.push({ name, shape: [a, b], make: (get) => get(from).slice(e * a * b, (e + 1) * a * b) });
  };

  copy('model.embed_tokens.weight', 'embed.weight');
  const rotary = rotaryRowOrder(H, D);
  for (let b = 0; b < spec.depth; b++) {
    const p = `blocks.${b}.`;
    const hf = `model.layers.${b}.`;
    copy(`${hf}input_layernorm.weight`, `${p}attn_norm.weight`);
    copy(`${hf}post_attention_layernorm.weight`, `${p}ffn_norm.weight`);
    const qkv = `${p}attn.qkv.weight`;
    rows(`${hf}self_attn.q_proj.weight`, qkv, d, rotary);
    rows(`${hf}self_attn.k_proj.weight`, qkv, d, rotary.map((r) => d + r));
    rows(`${hf}self_attn.v_proj.weight`, qkv, d, range(2 * d, d));
    copy(`${hf}self_attn.o_proj.weight`, `${p}attn.out.weight`);
    if (family === 'qwen2_moe') {
      for (const part of ['q', 'k', 'v']) tensors.push({ name: `${hf}self_attn.${part}_proj.bias`, shape: [d], make: () => new Float32Array(d) });
    }
    const layer = spec.layers[b]!;
    if (layer.kind === 'dense') {
      expert(`${hf}mlp.gate_proj.weight`, `${p}ffn.gate.weight`, 0);
      expert(`${hf}mlp.up_proj.weight`, `${p}ffn.up.weight`, 0);
      expert(`${hf}mlp.down_proj.weight`, `${p}ffn.down.weight`, 0);
      continue;
    }
    const m = `${p}moe.`;
    if (family === 'mixtral') {
      copy(`${hf}block_sparse_moe.gate.weight`, `${m}router.weight`);
      for (let e = 0; e < E; e++) {
        expert(`${hf}block_sparse_moe.experts.${e}.w1.weight`, `${m}experts.gate.weight`, e);
        expert(`${hf}block_sparse_moe.experts.${e}.w3.weight`, `${m}experts.up.weight`, e);
        expert(`${hf}block_sparse_moe.experts.${e}.w2.weight`, `${m}experts.down.weight`, e);
      }
      continue;
    }
    copy(`${hf}mlp.gate.weight`, `${m}router.weight`);
    for (let e = 0; e < E; e++) {
      expert(`${hf}mlp.experts.${e}.gate_proj.weight`, `${m}experts.gate.weight`, e);
      expert(`${hf}mlp.experts.${e}.up_proj.weight`, `${m}experts.up.weight`, e);
      expert(`${hf}mlp.experts.${e}.down_proj.weight`, `${m}experts.down.weight`, e);
    }
    tensors.push(...sharedExpert(spec, moe, hf, m, d));
  }
  copy('model.norm.weight', 'final_norm.weight');
  if (!spec.tieEmbeddings) copy('lm_head.weight', 'lm_head.weight');

  const common = {
    vocab_size: spec.vocab,
    hidden_size: d,
    num_hidden_layers: spec.depth,
    num_attention_heads: H,
    num_key_value_heads: H,
    head_dim: D,
    max_position_embeddings: spec.context,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: spec.tieEmbeddings,
    torch_dtype: 'float32',
    attention_dropout: 0,
    initializer_range: 0.02,
    use_cache: true,
    num_experts_per_tok: k,
    router_aux_loss_coef: moe.routing.losses.balance,
    output_router_logits: false,
    bos_token_id: null,
    eos_token_id: null,
  };
  const config =
    family === 'mixtral'
      ? { architectures: ['MixtralForCausalLM'], model_type: 'mixtral', ...common, intermediate_size: hidden, num_local_experts: E, router_jitter_noise: 0, sliding_window: null }
      : {
          architectures: ['Qwen2MoeForCausalLM'],
          model_type: 'qwen2_moe',
          ...common,
          num_experts: E,
          moe_intermediate_size: hidden,
          shared_expert_intermediate_size: moe.shared ? moe.shared.count * moe.shared.hidden : 1,
          intermediate_size: denseHidden(spec) ?? hidden,
          norm_topk_prob: renormalized,
          decoder_sparse_step: 1,
          mlp_only_layers: spec.layers.flatMap((l, b) => (l.kind === 'dense' ? [b] : [])),
          use_sliding_window: false,
          sliding_window: null,
          max_window_layers: spec.depth,
          qkv_bias: true,
        };
  return { family, config, tensors };
}

/** Config fields HF declares as floats: strict loaders refuse `0` where they expect `0.0`. */
const FLOAT_FIELDS = ['rms_norm_eps', 'rope_theta', 'attention_dropout', 'initializer_range', 'router_aux_loss_coef', 'router_jitter_noise'];

/** config.json text of a plan, float fields written with a decimal point. */
export function hfConfigJson(plan: HfPlan): string {
  let text = JSON.stringify(plan.config, null, 2);
  for (const f of FLOAT_FIELDS) text = text.replace(new RegExp(`("${f}": )(-?\\d+)(,?)$`, 'm'), '$1$2.0$3');
  return `${text}\n`;
}

/** The hidden size of the dense blocks (one size: hfFamilyOf checked). */
function denseHidden(spec: ModelSpec): number | undefined {
  const l = spec.layers.find((x) => x.kind === 'dense');
  return l?.kind === 'dense' ? l.hidden : undefined;
}

/** The k of a block's token-choice selection, from the lowered graph (segments multiply the spec's top_k). */
function selectK(graph: Graph, block: number): number {
  const op = graph.ops.find((o) => o.kind === 'select_top_k' && o.name.startsWith(`blocks.${block}.moe.`));
  if (op?.kind !== 'select_top_k') throw new Error(`internal: block ${block} has no token-choice selection`);
  return op.attrs.k;
}

/**
 * Qwen2-MoE's one shared expert and its gate. moec's K shared experts of h
 * units are one expert of K·h units; an ungated one becomes a gate of
 * weight 0 (σ(0) = ½ exactly) with its down projection doubled (exact in
 * float); no shared expert becomes a zero expert of one unit.
 */
function sharedExpert(spec: ModelSpec, moe: MoeFfnSpec, hf: string, m: string, d: number): HfTensor[] {
  const s = moe.shared;
  const name = (part: string) => `${hf}mlp.shared_expert.${part}.weight`;
  if (!s) {
    return [
      { name: name('gate_proj'), shape: [1, d], make: () => new Float32Array(d) },
      { name: name('up_proj'), shape: [1, d], make: () => new Float32Array(d) },
      { name: name('down_proj'), shape: [d, 1], make: () => new Float32Array(d) },
      { name: `${hf}mlp.shared_expert_gate.weight`, shape: [1, d], make: () => new Float32Array(d) },
    ];
  }
  const K = s.count;
  const h = s.hidden;
  const scale = s.gate === 'sigmoid' ? 1 : 2;
  void spec;
  return [
    // [K, h, d] stacks are already [K·h, d] row-major.
    { name: name('gate_proj'), shape: [K * h, d], make: (get) => get(`${m}shared.gate.weight`).slice() },
    { name: name('up_proj'), shape: [K * h, d], make: (get) => get(`${m}shared.up.weight`).slice() },
    {
      // [K, d, h] → [d, K·h]: column k·h + j of row i is down[k, i, j].
      name: name('down_proj'),
      shape: [d, K * h],
      make: (get) => {
        const down = get(`${m}shared.down.weight`);
        const out = new Float32Array(d * K * h);
        for (let k = 0; k < K; k++) for (let i = 0; i < d; i++) for (let j = 0; j < h; j++) out[i * K * h + k * h + j] = scale * down[(k * d + i) * h + j]!;
        return out;
      },
    },
    { name: `${hf}mlp.shared_expert_gate.weight`, shape: [1, d], make: (get) => (s.gate === 'sigmoid' ? get(`${m}shared.gate_proj.weight`).slice() : new Float32Array(d)) },
  ];
}
