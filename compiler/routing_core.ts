/**
 * The routing core: every router is one choice on each of a few axes. Presets
 * (token_choice, expert_choice, ...) are names for points in this space, and
 * `route core { ... }` writes a point directly. Kernels are generated from
 * the core only, so a new combination needs no new code.
 */
import type { ScoreName } from './score_functions.ts';

/** One router, fully resolved. */
export interface RoutingCore {
  /** Router nonlinearity on the logits z = W_r x. */
  readonly score: ScoreName;
  /**
   * Softmax axis. per_token: over experts, per token. per_expert: over the
   * tokens of a group, per expert slot. none: no normalisation (sigmoid).
   */
  readonly normalize: 'per_token' | 'per_expert' | 'none';
  /** token_choice: each token takes top_k experts. expert_choice: each expert takes its top tokens. all: every pair. */
  readonly select: 'token_choice' | 'expert_choice' | 'all';
  /** Experts per token under token_choice (already multiplied by `segments`); 0 otherwise. */
  readonly topK: number;
  /**
   * Capacity factor: token_choice C = ceil(f·k·N/E), expert_choice c = ceil(f·N/E),
   * both clamped to N. null: dropless (token_choice) or not applicable.
   */
  readonly capacityFactor: number | null;
  /** Gate of a selected expert: the raw score, or renormalised over the token's selection. */
  readonly weights: 'raw' | 'renormalized';
  /** gather: y_t = Σ gate·FFN_e(x_t). mix: mix tokens into slots, run experts on slots, unmix. */
  readonly combine: 'gather' | 'mix';
  /** combine mix: unmix with the dispatch weights (Mixture of Tokens) or a softmax over slots (Soft MoE). */
  readonly unmix: 'dispatch' | 'slot_softmax';
  /** combine mix: G tokens at one position across G sequences, or a whole sequence. */
  readonly group: number | 'sequence';
  /** combine mix: slots per expert. */
  readonly slots: number;
  /** Logits are divided by this before normalisation. */
  readonly temperature: number;
  readonly learnTemperature: boolean;
  /** Multiplicative router-input noise in training, U(1-ε, 1+ε). */
  readonly jitter: number;
  /**
   * Token choice only (the defaults are plain top-k): softmax over the selected
   * logits (Mixtral; rank logits, renormalise the gates).
   */
  readonly scoreAfterTopK: boolean;
  /** Group-limited top-k: experts in `count` groups, each token keeps its best `keep` groups by `score`. */
  readonly groups: { readonly count: number; readonly keep: number; readonly score: 'max' | 'sum_top2' } | null;
  /** Dynamic selection: stop once the picks' scores reach p (top_p), or below a score (threshold); top_k is the most. */
  readonly cut: { readonly kind: 'top_p' | 'threshold'; readonly value: number } | null;
  /** Zero-computation experts after the routed ones: selectable, contribute nothing, cost nothing. */
  readonly nullExperts: number;
  /** Routed scaling factor: every gate times this (after renormalising). */
  readonly scale: number;
  /** Which choices an expert over capacity keeps. */
  readonly drop: 'by_position' | 'by_probability';
  /** Capacity per micro-batch (every token of the call) or per sequence. */
  readonly capacityScope: 'micro_batch' | 'sequence';
  /** Sinkhorn iterations of balanced selection (BASE layers); 0 = off. */
  readonly sinkhorn: number;
  /** Where the gates multiply: the experts' outputs, or their inputs (Llama 4; one expert per token). */
  readonly applyGates: 'output' | 'input';
  readonly losses: {
    /** Switch balance loss α. */
    readonly balance: number;
    /** Router z-loss β. */
    readonly z: number;
    /** DeepSeekMoE sequence-level balance α. */
    readonly sequenceBalance: number;
    /** Loss-free bias balancing rate γ (0 = off). */
    readonly biasRate: number;
    /** ReLU routing's L1 penalty λ on the scores. */
    readonly l1: number;
    /** Global-batch balance α: expert counts summed over the micro-batches of a step. */
    readonly globalBalance: number;
  };
}

/** The neutral point every preset starts from. */
export const CORE_DEFAULTS: RoutingCore = {
  score: 'softmax',
  normalize: 'per_token',
  select: 'token_choice',
  topK: 1,
  capacityFactor: 1.25,
  weights: 'raw',
  combine: 'gather',
  unmix: 'dispatch',
  group: 'sequence',
  slots: 1,
  temperature: 1,
  learnTemperature: false,
  jitter: 0,
  scoreAfterTopK: false,
  groups: null,
  cut: null,
  nullExperts: 0,
  scale: 1,
  drop: 'by_position',
  capacityScope: 'micro_batch',
  sinkhorn: 0,
  applyGates: 'output',
  losses: { balance: 0, z: 0, sequenceBalance: 0, biasRate: 0, l1: 0, globalBalance: 0 },
};

/**
 * Why a token's output can depend on later tokens of its own sequence, or
 * undefined when it cannot (docs/ROUTING.md, causality).
 */
export function nonCausalReason(core: RoutingCore): string | undefined {
  if (core.select === 'expert_choice') return "experts choose among all tokens of the batch, so a token's routing depends on later tokens";
  if (core.combine === 'mix' && core.group === 'sequence') return "each slot mixes a whole sequence, so a token's output depends on later tokens";
  if (core.select !== 'token_choice') return undefined;
  if (core.sinkhorn > 0) return "Sinkhorn balances every expert's column over all tokens of the batch, so a token's choice depends on later tokens";
  if (core.capacityFactor === null) return undefined;
  if (core.drop === 'by_probability') return 'an expert over capacity keeps the choices with the largest gates, later tokens included, so a token can be dropped because of a later one';
  if (core.topK > 1) return "a token's 2nd and later choices compete for capacity with the 1st choices of later tokens";
  return undefined;
}

/**
 * Why a router cannot route one new token at a time (sampling with a
 * key/value cache): it ranks or mixes tokens of a whole sequence or batch.
 * Token choice with capacity can (capacity then never drops the lone token),
 * and Mixture of Tokens can (its groups span sequences at one position).
 */
export function wholeSequenceReason(core: RoutingCore): string | undefined {
  if (core.select === 'expert_choice') return 'expert choice ranks the tokens of a whole batch';
  if (core.combine === 'mix' && core.group === 'sequence') return 'Soft MoE slots mix a whole sequence';
  if (core.select === 'token_choice' && core.sinkhorn > 0) return 'Sinkhorn balances over all tokens of the batch';
  return undefined;
}

/** Whether a token's output can depend on later tokens of its own sequence. */
export function isNonCausal(core: RoutingCore): boolean {
  return nonCausalReason(core) !== undefined;
}

/** A one-line description used in kernel headers and `moec info`. */
export function describeCore(core: RoutingCore): string {
  const parts = [`score ${core.score}`, `normalize ${core.normalize}`, `select ${core.select}`];
  if (core.select === 'token_choice') parts.push(`top_k ${core.topK}`);
  if (core.select !== 'all') parts.push(core.capacityFactor === null ? 'capacity none' : `capacity_factor ${core.capacityFactor}`);
  if (core.select === 'token_choice') parts.push(`weights ${core.weights}`);
  parts.push(`combine ${core.combine}`);
  if (core.combine === 'mix') parts.push(`unmix ${core.unmix}`, `group ${core.group}`, `slots ${core.slots}`);
  if (core.temperature !== 1 || core.learnTemperature) parts.push(`temperature ${core.temperature}${core.learnTemperature ? ' (learned)' : ''}`);
  if (core.jitter) parts.push(`jitter ${core.jitter}`);
  if (core.scoreAfterTopK) parts.push('score_after_topk');
  if (core.groups) parts.push(`groups ${core.groups.count} (top_groups ${core.groups.keep}, group_score ${core.groups.score})`);
  if (core.cut) parts.push(`${core.cut.kind} ${core.cut.value}`);
  if (core.nullExperts) parts.push(`null_experts ${core.nullExperts}`);
  if (core.scale !== 1) parts.push(`routed_scale ${core.scale}`);
  if (core.capacityFactor !== null && core.drop !== 'by_position') parts.push(`drop_policy ${core.drop}`);
  if (core.capacityFactor !== null && core.capacityScope !== 'micro_batch') parts.push(`capacity_scope ${core.capacityScope}`);
  if (core.sinkhorn) parts.push(`sinkhorn ${core.sinkhorn}`);
  if (core.applyGates !== 'output') parts.push(`apply_gates ${core.applyGates}`);
  const l = core.losses;
  if (l.balance) parts.push(`balance_loss ${l.balance}`);
  if (l.z) parts.push(`z_loss ${l.z}`);
  if (l.sequenceBalance) parts.push(`sequence_balance ${l.sequenceBalance}`);
  if (l.globalBalance) parts.push(`global_balance ${l.globalBalance}`);
  if (l.l1) parts.push(`l1_loss ${l.l1}`);
  if (l.biasRate) parts.push(`bias_balance ${l.biasRate}`);
  return parts.join(', ');
}
