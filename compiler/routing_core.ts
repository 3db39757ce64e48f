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
  readonly losses: {
    /** Switch balance loss α. */
    readonly balance: number;
    /** Router z-loss β. */
    readonly z: number;
    /** DeepSeekMoE sequence-level balance α. */
    readonly sequenceBalance: number;
    /** Loss-free bias balancing rate γ (0 = off). */
    readonly biasRate: number;
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
  losses: { balance: 0, z: 0, sequenceBalance: 0, biasRate: 0 },
};

/** Whether a token's output can depend on later tokens of its own sequence. */
export function isNonCausal(core: RoutingCore): boolean {
  if (core.select === 'expert_choice') return true;
  return core.combine === 'mix' && core.group === 'sequence';
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
  const l = core.losses;
  if (l.balance) parts.push(`balance_loss ${l.balance}`);
  if (l.z) parts.push(`z_loss ${l.z}`);
  if (l.sequenceBalance) parts.push(`sequence_balance ${l.sequenceBalance}`);
  if (l.biasRate) parts.push(`bias_balance ${l.biasRate}`);
  return parts.join(', ');
}
