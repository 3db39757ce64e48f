/** `router`: router logits and, for gather routers, the per-token scores. */
import { SCORE_NAMES } from '../score_functions.ts';
import { bool, defineOp, f32, num, oneOf, optional } from './op_def.ts';

export const router = defineOp({
  kind: 'router',
  signature: {
    inputs: { x: f32(2), weight: f32(2), log_temperature: optional(f32(1), 'learned temperature') },
    outputs: { logits: f32(2), probs: optional(f32(2), 'gather routers (top-k, expert choice, all)') },
    attrs: {
      score: oneOf(SCORE_NAMES, 'score function of the logits (compiler/score_functions.ts)'),
      normalize: oneOf(['per_token', 'per_expert', 'none'], 'softmax axis (none: sigmoid)'),
      temperature: num('τ, logits are divided by it'),
      learn_temperature: bool('τ = exp(log_temperature) is trained'),
      jitter: num('ε of the training-only input noise U(1−ε, 1+ε)'),
    },
  },
  doc: {
    section: 'moe',
    math: [
      '`x [N, d], weight [S, d], (log_temperature [1]) → logits [N, S], (probs [N, S])`,',
      'attrs `score`, `normalize`, `temperature`, `learn_temperature`, `jitter`:',
      '`τ = exp(log_temperature)` if learned, else `temperature`;',
      '`logits = (x·weightᵀ)/τ`. (Jitter, training only, multiplies x by noise',
      'before the product; it is 0 in every comparison.) `probs` exists for gather',
      'routers: `softmax(logits[t])` (normalize per_token) or `σ(logits)` (none).',
    ].join('\n'),
    backward: [
      'from `dprobs` (softmax: `dz = p ⊙ (dp − Σ p·dp)`; sigmoid:',
      '`dz = dp·p(1−p)`) plus `dlogits`; `dr = dz/τ` on the raw product; `dx += dr·weight`;',
      '`dweight += drᵀ·x`; learned τ: `dlog_temperature += −Σ dz ⊙ logits`.',
    ].join('\n'),
  },
  infer: (op, shape) => {
    const rows = [shape(op.inputs.x)[0]!, shape(op.inputs.weight)[0]!];
    return { logits: rows, ...(op.outputs.probs ? { probs: rows } : {}) };
  },
  verify: (op, shape) => {
    if (shape(op.inputs.weight)[1] !== shape(op.inputs.x)[1]) return 'weight [slots, in] does not match the width of x';
    if (op.attrs.learn_temperature !== !!op.inputs.log_temperature) return 'log_temperature exactly when the temperature is learned';
    return op.attrs.temperature > 0 ? undefined : 'temperature must be positive';
  },
  flops: (op, shape) => {
    const N = shape(op.inputs.x)[0]!;
    const S = shape(op.inputs.weight)[0]!;
    return 2 * N * shape(op.inputs.x)[1]! * S + 5 * N * S;
  },
});
