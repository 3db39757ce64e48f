/**
 * `select_top_k`: token choice, each token takes up to k of its highest
 * ranked experts. The options compose: rank by other scores than the gates
 * (logits, Sinkhorn-balanced scores), plus a selection bias; keep only the
 * best groups of experts first; stop early at a cumulative probability or
 * below a score; scale the gates. Every option defaults to plain top-k.
 */
import { defineOp, f32, i32, int, num, oneOf, optional, withDefault } from './op_def.ts';

export const select_top_k = defineOp({
  kind: 'select_top_k',
  signature: {
    inputs: {
      probs: f32(2),
      bias: optional(f32(1), 'loss-free balancing: added to the ranking scores (selection only)'),
      rank: optional(f32(2), 'scores that rank the experts instead of probs (logits for softmax after top-k, Sinkhorn-balanced scores); gates still come from probs'),
      replay: optional(i32(2), "routing replay: each token's picks given (a recorded run's token_expert, −1 for none) instead of ranked"),
    },
    outputs: { token_expert: i32(2), token_gate: f32(2) },
    attrs: {
      k: int('experts per token (the most, when a cut stops earlier)', 1),
      weights: oneOf(['raw', 'renormalized'], 'gate of a selected expert'),
      scale: withDefault(num('routed scaling factor: every gate is multiplied by it, after renormalising'), 1),
      groups: withDefault(int('expert groups (experts split into equal consecutive groups); 1 = no group limit', 1), 1),
      top_groups: withDefault(int('groups kept per token, by group score; experts outside them are never selected', 1), 1),
      group_score: withDefault(oneOf(['max', 'sum_top2'], "a group's score: its best ranking score, or the sum of its best two"), 'max'),
      cut: withDefault(oneOf(['none', 'top_p', 'threshold'], 'dynamic selection: stop once the selected probs reach cut_value (top_p), or at the first candidate whose prob is not above cut_value (threshold)'), 'none'),
      cut_value: withDefault(num('p of top_p, or the threshold'), 0),
    },
  },
  doc: {
    section: 'moe',
    math: [
      '`probs [N, E], (bias [E]), (rank [N, E]) → token_expert [N, k] i32, token_gate [N, k]`.',
      'Ranking score `r[t, e] = (rank or probs)[t, e] + bias[e]`; ties go to the lower expert index.',
      'With `replay`, the picks are `replay[t, j]` as given (routing replay) and nothing is ranked.',
      'With `groups G > 1`, each group of `E/G` consecutive experts scores `max_e r` or the sum of its',
      'two best `r`; only the `top_groups` best groups (ties: lower group) are candidates.',
      'Candidates are taken in descending `r`, at most k. `cut top_p` stops after the pick that brings',
      '`Σ probs` of the picks to `cut_value` or more; `cut threshold` stops before the first candidate',
      'with `probs ≤ cut_value`. Unused places hold `token_expert = −1`, `token_gate = 0`.',
      '`token_gate[t, j] = probs[t, e_j]` (never the bias or rank); `weights renormalized` divides by',
      'the sum over the picks; then every gate is multiplied by `scale`.',
    ].join('\n'),
    backward:
      '(raw) `dprobs[t, e_j] += scale · dgate[t, j]`; renormalized with `g_j = p_j / Σ`: `dprobs[t, e_j] += scale · (dgate_j − Σ_i dgate_i g_i) / Σ` over the picks. No gradient reaches `rank` or `bias`.',
  },
  infer: (op, shape) => {
    const rows = [shape(op.inputs.probs)[0]!, op.attrs.k];
    return { token_expert: rows, token_gate: rows };
  },
  verify: (op, shape) => {
    const E = shape(op.inputs.probs)[1]!;
    const { k, groups, top_groups: keep } = op.attrs;
    if (op.inputs.rank && shape(op.inputs.rank).join() !== shape(op.inputs.probs).join()) return 'rank and probs differ in shape';
    if (op.inputs.replay && shape(op.inputs.replay).join() !== [shape(op.inputs.probs)[0]!, k].join()) return 'replay must be [tokens, k]';
    if (E % groups !== 0) return `${groups} groups do not divide the ${E} experts`;
    if (keep > groups) return `top_groups ${keep} exceeds the ${groups} groups`;
    if (op.attrs.group_score === 'sum_top2' && groups > 1 && E / groups < 2) return 'sum_top2 needs at least 2 experts per group';
    if (k > (E / groups) * keep) return `k ${k} exceeds the ${(E / groups) * keep} experts of the kept groups`;
    if (op.attrs.cut === 'top_p' && !(op.attrs.cut_value > 0 && op.attrs.cut_value <= 1)) return `top_p ${op.attrs.cut_value} is not in (0, 1]`;
    return op.inputs.bias && shape(op.inputs.bias)[0] !== E ? 'bias length differs from the expert count' : undefined;
  },
  flops: (op, shape) => shape(op.inputs.probs)[0]! * shape(op.inputs.probs)[1]! * (op.attrs.k + (op.attrs.groups > 1 ? 2 : 0)),
});
