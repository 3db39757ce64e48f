/**
 * The `.moe` language's vocabulary: every key, where it may appear, the
 * values it takes, their ranges and defaults, and one example each. The
 * lexer reserves these keys, the checker validates against them, and
 * docs/LANGUAGE.md's reference tables are generated from them, so the three
 * cannot drift apart.
 */
import { SCORE_FUNCTIONS, SCORE_NAMES } from './score_functions.ts';

/** The type of one value written after a key. */
export type ValueType =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number; minExclusive?: boolean }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'name' }
  | { kind: 'string' }
  | { kind: 'either'; of: readonly ValueType[] };

/** The router presets a `route` line may name, plus `core`. */
export const ROUTER_PRESETS = ['token_choice', 'expert_choice', 'mixture_of_tokens', 'soft', 'soft_merge', 'core'] as const;
export type RouterPreset = (typeof ROUTER_PRESETS)[number];

export const ACTIVATIONS = ['relu', 'gelu', 'silu', 'relu2', 'swiglu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** A key's definition. */
export interface KeyDef {
  readonly key: string;
  /** One sentence for docs and hover text. */
  readonly doc: string;
  /** The values after the key, in order; trailing ones may be optional, and the last may repeat (`blocks 1 3 5`). */
  readonly values: readonly { name: string; type: ValueType; optional?: boolean; repeat?: boolean }[];
  /** The default when the key is absent, as written in docs ('' when required or none). */
  readonly defaultText: string;
  /** The section its `{ ... }` block opens, if it takes one. */
  readonly block?: SectionName;
  /** Whether the block must be written. */
  readonly blockRequired?: boolean;
  /** Keys of `block` that may also be written inline before the brace (`ffn moe every 2 { ... }`). */
  readonly inline?: readonly string[];
  /** For route keys: the presets it applies to. */
  readonly presets?: readonly RouterPreset[];
  /** Must be written. */
  readonly required?: boolean;
  /** May be written more than once in its block (each occurrence is its own entry). */
  readonly repeatable?: boolean;
  /** A line of `.moe` showing it. */
  readonly example: string;
}

export type SectionName = 'file' | 'model' | 'ffn' | 'experts' | 'shared' | 'route' | 'train' | 'optimizer' | 'schedule';

const int = (min: number, max: number): ValueType => ({ kind: 'int', min, max });
const num = (min: number, max: number, minExclusive = false): ValueType => ({ kind: 'number', min, max, minExclusive });
const bool: ValueType = { kind: 'bool' };
const oneOf = (...values: string[]): ValueType => ({ kind: 'enum', values });

const TC: RouterPreset[] = ['token_choice', 'core'];
const ALL_ROUTED: RouterPreset[] = ['token_choice', 'expert_choice', 'soft_merge', 'core'];

/** Every section's keys, in documentation order. */
export const SECTIONS: Record<SectionName, readonly KeyDef[]> = {
  file: [
    { key: 'model', doc: 'Declares the model; its block holds the architecture.', values: [{ name: 'name', type: { kind: 'name' } }], defaultText: '', block: 'model', blockRequired: true, required: true, example: 'model switch_tiny { ... }' },
    { key: 'train', doc: 'Training settings; every key has a default, so the block may be omitted.', values: [], defaultText: 'all defaults', block: 'train', blockRequired: true, example: 'train { batch 16 steps 300 }' },
  ],
  model: [
    { key: 'vocab', doc: 'Vocabulary size (byte-level data uses 256).', values: [{ name: 'size', type: int(2, 65536) }], defaultText: '256', example: 'vocab 256' },
    { key: 'context', doc: 'Sequence length in tokens.', values: [{ name: 'tokens', type: int(1, 8192) }], defaultText: '64', example: 'context 64' },
    { key: 'width', doc: 'Model (residual stream) width d.', values: [{ name: 'd', type: int(1, 16384) }], defaultText: '64', example: 'width 64' },
    { key: 'depth', doc: 'Number of transformer blocks.', values: [{ name: 'blocks', type: int(1, 128) }], defaultText: '2', example: 'depth 2' },
    { key: 'heads', doc: 'Attention heads; must divide width.', values: [{ name: 'count', type: int(1, 256) }], defaultText: '4', example: 'heads 4' },
    { key: 'norm', doc: 'Normalisation used before attention, before the FFN and at the end.', values: [{ name: 'kind', type: oneOf('rms', 'layer') }], defaultText: 'rms', example: 'norm rms' },
    { key: 'position', doc: 'Positional encoding: learned absolute embeddings or rotary (RoPE).', values: [{ name: 'kind', type: oneOf('learned', 'rotary') }], defaultText: 'learned', example: 'position rotary' },
    { key: 'tie_embeddings', doc: 'Share the token embedding with the language-model head.', values: [{ name: 'on', type: bool }], defaultText: 'true', example: 'tie_embeddings false' },
    { key: 'ffn', doc: 'The feed-forward layer of the blocks: `dense` everywhere, or `moe` (in every block, or every n-th). Repeat it with `blocks` for layers that differ (their own experts and routing).', values: [{ name: 'kind', type: oneOf('dense', 'moe') }], defaultText: '', block: 'ffn', blockRequired: true, inline: ['every', 'first_dense', 'blocks'], required: true, repeatable: true, example: 'ffn moe every 2 { ... }' },
  ],
  ffn: [
    { key: 'hidden', doc: 'Hidden size of a dense FFN (`ffn dense` only).', values: [{ name: 'h', type: int(1, 65536) }], defaultText: '4 x width', example: 'hidden 256' },
    { key: 'activation', doc: 'Activation of a dense FFN (`ffn dense` only); gelu is the exact erf form, swiglu is gated.', values: [{ name: 'fn', type: oneOf(...ACTIVATIONS) }], defaultText: 'gelu', example: 'activation swiglu' },
    { key: 'every', doc: 'Blocks b (0-based) with (b + 1) % n == 0 get an MoE layer, the others a dense FFN.', values: [{ name: 'n', type: int(1, 128) }], defaultText: '1', example: 'ffn moe every 2 { ... }' },
    { key: 'first_dense', doc: 'The first k blocks are always dense (DeepSeekMoE).', values: [{ name: 'k', type: int(0, 128) }], defaultText: '0', example: 'ffn moe first_dense 1 { ... }' },
    { key: 'blocks', doc: 'The blocks (0-based) this ffn is for, overriding the ffn written without `blocks`: any pattern of dense and MoE layers, and layers with their own experts and routing.', values: [{ name: 'b', type: int(0, 127), repeat: true }], defaultText: 'every block not listed elsewhere', example: 'ffn moe blocks 1 3 { ... }' },
    { key: 'dense_hidden', doc: 'Hidden size of the dense FFN in the blocks that are not MoE.', values: [{ name: 'h', type: int(1, 65536) }], defaultText: 'hidden x segments of the experts', example: 'dense_hidden 256' },
    { key: 'experts', doc: 'The routed experts: how many, and their kind (`full` FFNs, or `ia3` / `lora` adapters over one frozen dense FFN).', values: [{ name: 'count', type: int(1, 1024) }, { name: 'kind', type: oneOf('full', 'ia3', 'lora'), optional: true }], defaultText: '', block: 'experts', inline: ['segments'], required: true, example: 'experts 8 { hidden 128 activation gelu }' },
    { key: 'shared', doc: 'Shared experts that every token always uses, added to the routed output (DeepSeekMoE).', values: [{ name: 'count', type: int(1, 64) }], defaultText: 'none', block: 'shared', example: 'shared 2 { hidden 32 }' },
    { key: 'route', doc: 'How tokens reach experts: a preset, or `core` to set each routing axis directly.', values: [{ name: 'router', type: oneOf(...ROUTER_PRESETS) }], defaultText: '', block: 'route', required: true, example: 'route token_choice { top_k 2 }' },
  ],
  experts: [
    { key: 'hidden', doc: 'Hidden size of each expert FFN (before segmentation); for ia3/lora, of the frozen base FFN.', values: [{ name: 'h', type: int(1, 65536) }], defaultText: '4 x width', example: 'hidden 128' },
    { key: 'activation', doc: 'Expert activation; swiglu is down(silu(gate x) * up x).', values: [{ name: 'fn', type: oneOf(...ACTIVATIONS) }], defaultText: 'gelu', example: 'activation relu' },
    { key: 'segments', doc: 'Fine-grained segmentation: each expert becomes m experts of hidden h/m, and top_k becomes m x top_k.', values: [{ name: 'm', type: int(1, 64) }], defaultText: '1', example: 'experts 4 segments 4 { hidden 128 }' },
    { key: 'rank', doc: 'LoRA rank r (`lora` experts only).', values: [{ name: 'r', type: int(1, 1024) }], defaultText: '4', example: 'rank 4' },
    { key: 'alpha', doc: 'LoRA scale numerator: the update is (alpha / rank) B A x (`lora` experts only).', values: [{ name: 'a', type: num(0, 1e6, true) }], defaultText: 'rank', example: 'alpha 8' },
  ],
  shared: [
    { key: 'hidden', doc: 'Hidden size of each shared expert.', values: [{ name: 'h', type: int(1, 65536) }], defaultText: "the routed experts' segment size", example: 'hidden 32' },
    { key: 'activation', doc: 'Activation of the shared experts.', values: [{ name: 'fn', type: oneOf(...ACTIVATIONS) }], defaultText: "the routed experts' activation", example: 'activation gelu' },
    { key: 'gate', doc: "A per-token gate on the shared experts' output: sigmoid(x . w) with one learned vector w (Qwen-MoE), or none.", values: [{ name: 'fn', type: oneOf('none', 'sigmoid') }], defaultText: 'none', example: 'gate sigmoid' },
  ],
  route: [
    { key: 'top_k', doc: 'Experts each token picks (ties go to the lower expert index).', values: [{ name: 'k', type: int(1, 1024) }], defaultText: '1', presets: TC, example: 'top_k 2' },
    { key: 'score', doc: `Router score: ${SCORE_NAMES.map((n) => `${n} (${SCORE_FUNCTIONS[n].doc})`).join('; ')}.`, values: [{ name: 'fn', type: oneOf(...SCORE_NAMES) }], defaultText: 'softmax', presets: ['token_choice', 'expert_choice', 'core'], example: 'score sigmoid' },
    { key: 'renormalize', doc: 'Rescale the selected gates of a token to sum to 1.', values: [{ name: 'on', type: bool }], defaultText: 'false', presets: ['token_choice'], example: 'renormalize true' },
    { key: 'capacity_factor', doc: 'Expert capacity C = ceil(factor x k x N / E) for token choice, c = ceil(factor x N / E) for expert choice.', values: [{ name: 'factor', type: num(0, 1e6, true) }], defaultText: 'token_choice 1.25, expert_choice 2', presets: ['token_choice', 'expert_choice', 'core'], example: 'capacity_factor 1.25' },
    { key: 'capacity', doc: '`capacity none` makes token choice dropless (no token is ever dropped).', values: [{ name: 'none', type: oneOf('none') }], defaultText: 'capacity_factor applies', presets: TC, example: 'capacity none' },
    { key: 'jitter', doc: 'Multiplicative router input noise U(1-e, 1+e), training only.', values: [{ name: 'e', type: num(0, 1, false) }], defaultText: '0', presets: TC, example: 'jitter 0.01' },
    { key: 'balance_loss', doc: 'Switch load-balancing loss coefficient: alpha x E x sum_e f_e P_e.', values: [{ name: 'alpha', type: num(0, 1e3) }], defaultText: '0', presets: TC, example: 'balance_loss 0.01' },
    { key: 'z_loss', doc: 'Router z-loss coefficient: beta x mean_t logsumexp(z_t)^2.', values: [{ name: 'beta', type: num(0, 1e3) }], defaultText: '0', presets: ALL_ROUTED, example: 'z_loss 0.001' },
    { key: 'sequence_balance', doc: 'DeepSeekMoE sequence-level balance loss coefficient.', values: [{ name: 'alpha', type: num(0, 1e3) }], defaultText: '0', presets: TC, example: 'sequence_balance 0.001' },
    { key: 'bias_balance', doc: 'Loss-free balancing: per-expert selection bias updated by this rate after each step (0 = off).', values: [{ name: 'gamma', type: num(0, 1) }], defaultText: '0', presets: TC, example: 'bias_balance 0.001' },
    { key: 'group', doc: 'Mixture of Tokens: G tokens at the same position in G sequences are mixed (G divides batch). Core: a number, or `sequence` for one group per sequence.', values: [{ name: 'G', type: { kind: 'either', of: [int(1, 65536), oneOf('sequence')] } }], defaultText: 'mixture_of_tokens 8', presets: ['mixture_of_tokens', 'core'], example: 'group 8' },
    { key: 'temperature', doc: 'Router temperature tau: the logits are divided by tau before the score function (for Mixture of Tokens, the softmax over the group).', values: [{ name: 'tau', type: num(0, 1e6, true) }], defaultText: '1', presets: ['token_choice', 'expert_choice', 'mixture_of_tokens', 'core'], example: 'temperature 1.0' },
    { key: 'learn_temperature', doc: 'Train the temperature (as log tau).', values: [{ name: 'on', type: bool }], defaultText: 'false', presets: ['token_choice', 'expert_choice', 'mixture_of_tokens', 'core'], example: 'learn_temperature true' },
    { key: 'slots', doc: 'Soft MoE slots per expert p.', values: [{ name: 'p', type: int(1, 1024) }], defaultText: '1', presets: ['soft', 'core'], example: 'slots 2' },
    { key: 'normalize', doc: 'Core: softmax axis. per_token = over experts, per_expert = over the tokens of a group, none = no softmax (sigmoid).', values: [{ name: 'axis', type: oneOf('per_token', 'per_expert', 'none') }], defaultText: 'per_token (none with sigmoid)', presets: ['core'], example: 'normalize per_expert' },
    { key: 'select', doc: 'Core: tokens pick top_k experts, experts pick their top tokens, or every expert sees every token.', values: [{ name: 'how', type: oneOf('token_choice', 'expert_choice', 'all') }], defaultText: 'token_choice', presets: ['core'], example: 'select expert_choice' },
    { key: 'weights', doc: 'Core: gate weights of the selected experts, renormalized to sum to 1 or raw scores.', values: [{ name: 'how', type: oneOf('renormalized', 'raw') }], defaultText: 'raw', presets: ['core'], example: 'weights renormalized' },
    { key: 'combine', doc: 'Core: gather = weighted sum of expert outputs per token; mix = mix tokens into slots, process, unmix.', values: [{ name: 'how', type: oneOf('gather', 'mix') }], defaultText: 'gather', presets: ['core'], example: 'combine mix' },
    { key: 'score_after_topk', doc: 'Softmax over the selected logits only (Mixtral; Megatron with pre_softmax off): experts are ranked by their logits and the k gates sum to 1. Needs score softmax.', values: [{ name: 'on', type: bool }], defaultText: 'false', presets: TC, example: 'score_after_topk true' },
    { key: 'groups', doc: 'Group-limited top-k (DeepSeek-V2/V3): the experts form this many equal groups of consecutive experts; a token picks only inside its top_groups best groups.', values: [{ name: 'n', type: int(1, 32) }], defaultText: '1 (no group limit)', presets: TC, example: 'groups 8' },
    { key: 'top_groups', doc: 'Groups a token may pick from, the best by group_score.', values: [{ name: 'm', type: int(1, 32) }], defaultText: 'groups', presets: TC, example: 'top_groups 4' },
    { key: 'group_score', doc: "A group's score: the best ranking score of its experts (max, DeepSeek-V2) or the sum of its best two (sum_top2, DeepSeek-V3).", values: [{ name: 'how', type: oneOf('max', 'sum_top2') }], defaultText: 'max', presets: TC, example: 'group_score sum_top2' },
    { key: 'top_p', doc: 'Dynamic selection: a token takes experts in descending order until their scores reach p, at most top_k of them. Needs score softmax and a written top_k.', values: [{ name: 'p', type: num(0, 1, true) }], defaultText: 'off', presets: TC, example: 'top_p 0.7' },
    { key: 'threshold', doc: 'Dynamic selection: a token takes the experts whose score is above t, at most top_k of them (ReLU routing: threshold 0).', values: [{ name: 't', type: num(-1e6, 1e6) }], defaultText: 'off', presets: TC, example: 'threshold 0.2' },
    { key: 'null_experts', doc: 'Zero-computation experts added to the router: a token that picks one gets nothing from it and it costs nothing, so the number of real experts per token varies.', values: [{ name: 'n', type: int(1, 1024) }], defaultText: '0', presets: TC, example: 'null_experts 4' },
    { key: 'routed_scale', doc: 'Routed scaling factor: every gate is multiplied by it, after renormalising (DeepSeek-V3: 2.5).', values: [{ name: 's', type: num(0, 1e6, true) }], defaultText: '1', presets: TC, example: 'routed_scale 2.5' },
    { key: 'drop_policy', doc: 'Which choices an expert over capacity keeps: by_position (1st choices in token order, then 2nd choices, ...) or by_probability (the largest gates).', values: [{ name: 'how', type: oneOf('by_position', 'by_probability') }], defaultText: 'by_position', presets: TC, example: 'drop_policy by_probability' },
    { key: 'capacity_scope', doc: "Capacity per micro-batch (C = ceil(f x k x N / E) over all N tokens) or per sequence (C = ceil(f x k x S / E) for each sequence's S tokens).", values: [{ name: 'scope', type: oneOf('micro_batch', 'sequence') }], defaultText: 'micro_batch', presets: TC, example: 'capacity_scope sequence' },
    { key: 'sinkhorn', doc: 'Balanced assignment (BASE layers): experts are ranked by Sinkhorn-normalised scores (this many iterations) so tokens spread evenly; gates are still the router scores. Not causal.', values: [{ name: 'iterations', type: int(1, 1000) }], defaultText: 'off', presets: TC, example: 'sinkhorn 10' },
    { key: 'apply_gates', doc: 'Where the gate multiplies: the expert output (usual) or the expert input (Llama 4); input needs top_k 1.', values: [{ name: 'where', type: oneOf('output', 'input') }], defaultText: 'output', presets: TC, example: 'apply_gates input' },
    { key: 'l1_loss', doc: 'ReLU routing sparsity penalty: lambda x mean_t sum_e |p_te|. Needs an unnormalised score (relu, sigmoid, sqrtsoftplus).', values: [{ name: 'lambda', type: num(0, 1e3) }], defaultText: '0', presets: TC, example: 'l1_loss 0.001' },
    { key: 'global_balance', doc: 'Global-batch balance loss: the Switch loss with expert counts summed over the micro-batches of a step so far (accumulate > 1).', values: [{ name: 'alpha', type: num(0, 1e3) }], defaultText: '0', presets: TC, example: 'global_balance 0.01' },
    { key: 'unmix', doc: 'Core, combine mix: redistribute with the dispatch weights (Mixture of Tokens) or a softmax over slots (Soft MoE).', values: [{ name: 'how', type: oneOf('dispatch', 'slot_softmax') }], defaultText: 'dispatch', presets: ['core'], example: 'unmix slot_softmax' },
  ],
  train: [
    { key: 'data', doc: 'Training text: the built-in synthetic corpus, the built-in real text (moby_dick: Melville\'s Moby-Dick, 1.2 MB), or a UTF-8 file read byte by byte.', values: [{ name: 'source', type: { kind: 'either', of: [oneOf('synthetic', 'moby_dick'), { kind: 'string' }] } }], defaultText: 'synthetic', example: 'data "corpus.txt"' },
    { key: 'batch', doc: 'Sequences per step.', values: [{ name: 'B', type: int(1, 4096) }], defaultText: '16', example: 'batch 16' },
    { key: 'steps', doc: 'Optimizer steps.', values: [{ name: 'n', type: int(1, 10_000_000) }], defaultText: '300', example: 'steps 300' },
    { key: 'accumulate', doc: 'Micro-batches whose gradients are summed per optimizer step.', values: [{ name: 'n', type: int(1, 1024) }], defaultText: '1', example: 'accumulate 2' },
    { key: 'optimizer', doc: 'The optimizer; AdamW uses decoupled weight decay.', values: [{ name: 'kind', type: oneOf('adamw', 'sgd') }], defaultText: 'adamw', block: 'optimizer', example: 'optimizer adamw { lr 3e-3 }' },
    { key: 'schedule', doc: 'Learning-rate schedule after a linear warm-up.', values: [{ name: 'kind', type: oneOf('cosine', 'constant', 'linear') }], defaultText: 'cosine', block: 'schedule', example: 'schedule cosine { warmup 20 }' },
    { key: 'clip', doc: 'Global gradient-norm clipping threshold (0 = off).', values: [{ name: 'norm', type: num(0, 1e6) }], defaultText: '1', example: 'clip 1.0' },
    { key: 'seed', doc: 'Seed of initialisation, data and jitter.', values: [{ name: 's', type: int(0, 2 ** 31 - 1) }], defaultText: '1', example: 'seed 1' },
    { key: 'eval_every', doc: 'Steps between validation-loss measurements.', values: [{ name: 'n', type: int(1, 10_000_000) }], defaultText: '50', example: 'eval_every 50' },
    { key: 'checkpoint_every', doc: 'Steps between checkpoints (one is always written at the end).', values: [{ name: 'n', type: int(1, 10_000_000) }], defaultText: '100', example: 'checkpoint_every 100' },
    { key: 'validation', doc: 'Fraction of a data file held out for validation.', values: [{ name: 'fraction', type: num(0, 0.5, true) }], defaultText: '0.1', example: 'validation 0.1' },
  ],
  optimizer: [
    { key: 'lr', doc: 'Peak learning rate.', values: [{ name: 'lr', type: num(0, 10, true) }], defaultText: '3e-3', example: 'lr 3e-3' },
    { key: 'beta1', doc: 'AdamW first-moment decay.', values: [{ name: 'b1', type: num(0, 1) }], defaultText: '0.9', example: 'beta1 0.9' },
    { key: 'beta2', doc: 'AdamW second-moment decay.', values: [{ name: 'b2', type: num(0, 1) }], defaultText: '0.95', example: 'beta2 0.95' },
    { key: 'eps', doc: 'AdamW denominator epsilon.', values: [{ name: 'eps', type: num(0, 1, true) }], defaultText: '1e-8', example: 'eps 1e-8' },
    { key: 'weight_decay', doc: 'Decoupled weight decay (matrices only; not norms, biases or router biases).', values: [{ name: 'wd', type: num(0, 10) }], defaultText: '0.1', example: 'weight_decay 0.1' },
    { key: 'momentum', doc: 'SGD momentum.', values: [{ name: 'mu', type: num(0, 1) }], defaultText: '0.9', example: 'momentum 0.9' },
  ],
  schedule: [
    { key: 'warmup', doc: 'Linear warm-up steps from 0 to the peak learning rate.', values: [{ name: 'steps', type: int(0, 10_000_000) }], defaultText: '10% of steps', example: 'warmup 20' },
    { key: 'min_lr', doc: 'Final learning rate as a fraction of the peak.', values: [{ name: 'fraction', type: num(0, 1) }], defaultText: '0.1', example: 'min_lr 0.1' },
  ],
};

/** Every key name in the language; the lexer reserves them all. */
export const ALL_KEYS: readonly string[] = [...new Set(Object.values(SECTIONS).flatMap((keys) => keys.map((k) => k.key)))];

/** Keys that may be written inline before a block's brace (`every`, `first_dense`, `segments`). */
export const INLINE_KEYS: readonly string[] = [...new Set(Object.values(SECTIONS).flatMap((keys) => keys.flatMap((k) => k.inline ?? [])))];

/** Every enum word a value may take; they must never collide with a key (a test asserts it). */
export const ALL_CHOICES: readonly string[] = [
  ...new Set(
    Object.values(SECTIONS).flatMap((keys) =>
      keys.flatMap((k) => k.values.flatMap((v) => choicesOf(v.type))),
    ),
  ),
];

function choicesOf(t: ValueType): string[] {
  if (t.kind === 'enum') return [...t.values];
  if (t.kind === 'bool') return ['true', 'false'];
  if (t.kind === 'either') return t.of.flatMap(choicesOf);
  return [];
}

/** The definition of `key` in `section`, if any. */
export function keyDef(section: SectionName, key: string): KeyDef | undefined {
  return SECTIONS[section].find((k) => k.key === key);
}

/** A human description of a value type: "integer 1..1024", "one of rms, layer". */
export function describeType(t: ValueType): string {
  switch (t.kind) {
    case 'int':
      return `integer ${t.min}..${t.max}`;
    case 'number':
      return `number ${t.minExclusive ? '>' : '>='} ${t.min} and <= ${t.max}`;
    case 'bool':
      return 'true or false';
    case 'enum':
      return t.values.length === 1 ? `\`${t.values[0]}\`` : `one of ${t.values.join(', ')}`;
    case 'name':
      return 'a name (letters, digits, _)';
    case 'string':
      return 'a "quoted string"';
    case 'either':
      return t.of.map(describeType).join(', or ');
  }
}
