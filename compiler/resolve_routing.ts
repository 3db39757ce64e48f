/**
 * Lowers a `route` block — a preset, or `route core` — to the routing core,
 * and checks its relations: contradictions between options, options that
 * mean nothing for the chosen selection, and routers that are not causal.
 * Every token-choice option composes with the others; each check here names
 * the combination that cannot work and how to write it instead.
 */
import type { DiagnosticBag } from './diagnostics.ts';
import type { Fields } from './fields.ts';
import { CORE_DEFAULTS, type RoutingCore } from './routing_core.ts';
import type { RouterPreset } from './schema.ts';
import { ELEMENTWISE_SCORES, SCORE_FUNCTIONS, type ScoreName } from './score_functions.ts';
import type { ExpertsSpec, TrainSpec } from './spec.ts';

/** The most expert groups a group-limited selection may have (the kernels keep them in one 32-bit mask). */
export const MAX_EXPERT_GROUPS = 32;

/** The options only token choice understands (every one composes with the others). */
const TOKEN_CHOICE_OPTIONS = [
  'top_k', 'weights', 'renormalize', 'capacity', 'balance_loss', 'sequence_balance', 'bias_balance', 'score_after_topk', 'groups', 'top_groups',
  'group_score', 'top_p', 'threshold', 'null_experts', 'routed_scale', 'drop_policy', 'capacity_scope', 'sinkhorn', 'apply_gates', 'l1_loss', 'global_balance',
];

/** Lowers a preset (or the core form) to the routing core, checking relations. */
export function resolveRouting(r: Fields, preset: RouterPreset, experts: ExpertsSpec, train: TrainSpec, batchKnown: boolean, ffn: Fields, d: DiagnosticBag): RoutingCore {
  const baseExperts = experts.count / experts.segments;
  const losses = {
    balance: r.num('balance_loss', 0),
    z: r.num('z_loss', 0),
    sequenceBalance: r.num('sequence_balance', 0),
    biasRate: r.num('bias_balance', 0),
    l1: r.num('l1_loss', 0),
    globalBalance: r.num('global_balance', 0),
  };
  const common = {
    ...CORE_DEFAULTS,
    jitter: r.num('jitter', 0),
    temperature: r.num('temperature', 1),
    learnTemperature: r.bool('learn_temperature', false),
    losses,
  };
  const capacity = (fallback: number): number | null => {
    if (r.written('capacity') && r.written('capacity_factor')) {
      d.error('E203', r.keySpan('capacity'), '`capacity none` and `capacity_factor` contradict each other', 'keep one: `capacity none` for dropless routing');
    }
    return r.entry('capacity') ? null : r.num('capacity_factor', fallback);
  };
  // Null experts are routed like any other, so top_k may count them.
  const choosable = baseExperts + r.num('null_experts', 0);
  const topK = (): number => {
    const k = r.num('top_k', 1);
    if (k > choosable && !ffn.invalid('experts')) {
      d.error('E201', r.valueSpan('top_k'), `top_k ${k} exceeds the ${choosable} experts`, `top_k is at most the expert count (${choosable})`);
    }
    return Math.min(k, choosable) * experts.segments;
  };
  let core: RoutingCore;
  switch (preset) {
    case 'token_choice': {
      const score = r.word<ScoreName>('score', 'softmax');
      core = {
        ...common,
        score,
        normalize: SCORE_FUNCTIONS[score].normalize,
        select: 'token_choice',
        topK: topK(),
        capacityFactor: capacity(1.25),
        weights: r.bool('renormalize', false) || r.bool('score_after_topk', false) ? 'renormalized' : 'raw',
      };
      break;
    }
    case 'expert_choice': {
      const score = r.word<ScoreName>('score', 'softmax');
      core = { ...common, score, normalize: SCORE_FUNCTIONS[score].normalize, select: 'expert_choice', topK: 0, capacityFactor: r.num('capacity_factor', 2) };
      break;
    }
    case 'mixture_of_tokens':
      core = { ...common, normalize: 'per_expert', select: 'all', topK: 0, capacityFactor: null, combine: 'mix', unmix: 'dispatch', group: groupOf(r, 8), slots: 1 };
      break;
    case 'soft':
      core = { ...common, normalize: 'per_expert', select: 'all', topK: 0, capacityFactor: null, combine: 'mix', unmix: 'slot_softmax', group: 'sequence', slots: r.num('slots', 1) };
      break;
    case 'soft_merge':
      core = { ...common, select: 'all', topK: 0, capacityFactor: null };
      break;
    case 'core':
      core = resolveCore(r, common, topK, capacity, d);
      break;
  }
  if (core.select === 'token_choice') core = { ...core, ...tokenChoiceOptions(r, core, experts, preset, d) };
  if (core.weights === 'renormalized' && core.select === 'token_choice' && core.topK === 1) {
    const cause = core.scoreAfterTopK ? 'score_after_topk' : preset === 'core' ? 'weights' : 'renormalize';
    const what = core.scoreAfterTopK ? 'a softmax over one selected logit is 1' : 'every renormalized gate is 1';
    d.warning('W302', r.keySpan(cause), `with one expert per token ${what}`, 'the router then learns only from the auxiliary losses; use top_k 2 or raw weights');
  }
  const groupKnown = batchKnown && !r.invalid('group');
  if (groupKnown && core.combine === 'mix' && typeof core.group === 'number' && train.batch % core.group !== 0) {
    d.error('E202', r.written('group') ? r.valueSpan('group') : ffn.valueSpan('route'), `group ${core.group} does not divide the batch ${train.batch}`, 'each group takes one token from each of G different sequences, so G must divide `batch`');
  }
  return core;
}

function groupOf(r: Fields, fallback: number | 'sequence'): number | 'sequence' {
  const v = r.value('group');
  return typeof v === 'number' || v === 'sequence' ? v : fallback;
}

/** `route core { ... }`: each axis written directly; contradictions are reported. */
function resolveCore(r: Fields, common: RoutingCore, topK: () => number, capacity: (f: number) => number | null, d: DiagnosticBag): RoutingCore {
  const score = r.word<ScoreName>('score', 'softmax');
  const combine = r.word<'gather' | 'mix'>('combine', 'gather');
  const normalize = r.word<RoutingCore['normalize']>('normalize', combine === 'mix' ? 'per_expert' : SCORE_FUNCTIONS[score].normalize);
  const select = r.word<RoutingCore['select']>('select', combine === 'mix' ? 'all' : 'token_choice');
  const unmix = r.word<RoutingCore['unmix']>('unmix', 'dispatch');
  // A bad axis value is already reported; its default would contradict the other axes.
  if (!r.invalid('score', 'normalize', 'select', 'combine', 'unmix')) checkCoreAxes(r, { score, normalize, select, combine, unmix }, d);
  return {
    ...common,
    score,
    normalize,
    select,
    topK: select === 'token_choice' ? topK() : 0,
    capacityFactor: select === 'all' ? null : select === 'expert_choice' ? r.num('capacity_factor', 2) : capacity(1.25),
    weights: select === 'token_choice' ? (r.bool('score_after_topk', false) ? 'renormalized' : r.word<RoutingCore['weights']>('weights', 'raw')) : 'raw',
    combine,
    unmix: combine === 'mix' ? unmix : CORE_DEFAULTS.unmix,
    group: combine === 'mix' ? groupOf(r, 'sequence') : CORE_DEFAULTS.group,
    slots: combine === 'mix' ? r.num('slots', 1) : CORE_DEFAULTS.slots,
  };
}

/** The contradictions between the axes of `route core { ... }`. */
function checkCoreAxes(r: Fields, axes: Pick<RoutingCore, 'score' | 'normalize' | 'select' | 'combine' | 'unmix'>, d: DiagnosticBag): void {
  const { score, normalize, select, combine, unmix } = axes;
  const elementwise = SCORE_FUNCTIONS[score].normalize === 'none';
  if (elementwise && normalize !== 'none') {
    d.error('E203', r.valueSpan('normalize'), `${score} scores are not normalized, but normalize is ${normalize}`, `write \`normalize none\` with \`score ${score}\``);
  }
  if (!elementwise && normalize === 'none') {
    const alternatives = ELEMENTWISE_SCORES.map((s) => `\`score ${s}\``).join(' or ');
    d.error('E203', r.valueSpan('normalize'), `${score} always normalizes; \`normalize none\` needs ${alternatives}`, `write ${alternatives}, or normalize per_token`);
  }
  if ((normalize === 'per_expert') !== (combine === 'mix') && !(elementwise && normalize === 'none')) {
    d.error('E204', r.written('normalize') ? r.valueSpan('normalize') : r.valueSpan('combine'), 'normalize per_expert goes with combine mix, and combine mix with normalize per_expert', 'mixing routers weight tokens per expert slot; gathering routers weight experts per token');
  }
  if (combine === 'mix' && select !== 'all') {
    d.error('E204', r.valueSpan('select'), `combine mix needs select all, not ${select}`, 'every slot mixes every token of its group');
  }
  const written = (k: string): boolean => r.written(k);
  if (select !== 'token_choice') {
    for (const k of TOKEN_CHOICE_OPTIONS) {
      if (written(k)) d.error('E110', r.keySpan(k), `\`${k}\` applies only to \`select token_choice\``, `this router has select ${select}`);
    }
  }
  if (select === 'all' && written('capacity_factor')) {
    d.error('E110', r.keySpan('capacity_factor'), '`capacity_factor` does not apply to `select all`', 'every expert sees every token; there is no capacity');
  }
  if (combine !== 'mix') {
    for (const k of ['unmix', 'group', 'slots']) {
      if (written(k)) d.error('E110', r.keySpan(k), `\`${k}\` applies only to \`combine mix\``, 'gathering routers have no slots or groups');
    }
  }
  if (unmix === 'dispatch' && r.num('slots', 1) > 1) {
    d.error('E204', r.valueSpan('slots'), 'several slots per expert need `unmix slot_softmax`', 'with dispatch unmixing each expert has one slot per group');
  }
}


/**
 * The options of token choice beyond top-k, each checked against the others
 * and against the score function: a contradiction is an error at the key
 * that makes it, an option that changes nothing a warning.
 */
function tokenChoiceOptions(r: Fields, core: RoutingCore, experts: ExpertsSpec, preset: RouterPreset, d: DiagnosticBag): Partial<RoutingCore> {
  const score = core.score;
  const softmax = SCORE_FUNCTIONS[score].normalize === 'per_token';
  const out: { -readonly [K in keyof RoutingCore]?: RoutingCore[K] } = {};

  // Softmax over the selected logits: rank by logits, renormalise the gates.
  if (r.bool('score_after_topk', false)) {
    if (!softmax && !r.invalid('score')) d.error('E203', r.valueSpan('score_after_topk'), `score_after_topk takes the softmax of the selected logits, but the score is ${score}`, `write \`score softmax\`, or drop score_after_topk: ${score} scores each expert on its own already`);
    const weightsKey = preset === 'core' ? 'weights' : 'renormalize';
    const said = preset === 'core' ? r.value('weights') === 'raw' : r.value('renormalize') === false;
    if (said) d.error('E203', r.valueSpan(weightsKey), 'score_after_topk gates always sum to 1 over the selection', `remove \`${weightsKey}\``);
    out.scoreAfterTopK = true;
  }

  // Group-limited top-k.
  const E = experts.count;
  if (r.written('groups') || r.written('top_groups') || r.written('group_score')) {
    if (!r.written('groups')) d.error('E203', r.keySpan(r.written('top_groups') ? 'top_groups' : 'group_score'), 'a group limit needs `groups`', 'write `groups n` (n divides the expert count) with `top_groups m`');
    const count = r.num('groups', 1);
    const keep = r.num('top_groups', count);
    const how = r.word<'max' | 'sum_top2'>('group_score', 'max');
    const valid = !r.invalid('groups', 'top_groups', 'top_k') && r.written('groups');
    if (valid && E % count !== 0) d.error('E202', r.valueSpan('groups'), `groups ${count} does not divide the ${E} experts`, `try groups ${[...Array(E).keys()].map((i) => i + 1).filter((g) => E % g === 0 && g <= count).pop()}`);
    else if (valid && keep > count) d.error('E203', r.valueSpan('top_groups'), `top_groups ${keep} exceeds the ${count} groups`, `top_groups is at most groups (${count})`);
    else if (valid && how === 'sum_top2' && E / count < 2) d.error('E202', r.valueSpan('group_score'), `sum_top2 needs at least 2 experts per group; ${count} groups of ${E} experts have 1`, 'use fewer groups or group_score max');
    else if (valid && core.topK > (E / count) * keep) {
      d.error('E201', r.valueSpan('top_k'), `top_k ${core.topK} exceeds the ${(E / count) * keep} experts of the ${keep} kept groups`, `raise top_groups to ${Math.min(count, Math.ceil(core.topK / (E / count)))} or lower top_k`);
    }
    if (r.written('null_experts')) d.error('E204', r.keySpan('null_experts'), 'null experts cannot be grouped with the routed experts', 'drop `groups` or `null_experts`');
    if (valid && keep === count) d.warning('W302', r.keySpan(r.written('top_groups') ? 'top_groups' : 'groups'), `keeping all ${count} groups limits nothing`, 'set top_groups below groups');
    if (count > 1) out.groups = { count, keep, score: how };
  }

  // Dynamic selection.
  for (const key of ['top_p', 'threshold'] as const) {
    if (!r.entry(key)) continue;
    if (key === 'top_p' && r.written('threshold')) {
      d.error('E203', r.keySpan('threshold'), '`top_p` and `threshold` both cut the selection', 'keep one of them');
      continue;
    }
    if (!r.written('top_k')) d.error('E203', r.keySpan(key), `\`${key}\` needs \`top_k\`: the most experts a token may take`, `e.g. \`top_k 4  ${key} ${key === 'top_p' ? 0.7 : 0.1}\``);
    if (key === 'top_p' && !softmax && !r.invalid('score')) d.error('E203', r.valueSpan('top_p'), `top_p adds up scores that sum to 1 per token, but ${score} scores do not`, 'use `threshold` with this score, or `score softmax`');
    out.cut = { kind: key, value: r.num(key, 0) };
  }

  const nulls = r.num('null_experts', 0);
  if (nulls > 0) out.nullExperts = nulls * experts.segments;
  if (r.entry('routed_scale')) out.scale = r.num('routed_scale', 1);

  // Capacity options mean nothing without a capacity.
  for (const key of ['drop_policy', 'capacity_scope'] as const) {
    if (r.entry(key) && core.capacityFactor === null) d.warning('W302', r.keySpan(key), `\`${key}\` has no effect: this router is dropless (capacity none)`, 'set capacity_factor, or remove it');
  }
  if (core.capacityFactor !== null) {
    out.drop = r.word('drop_policy', 'by_position');
    out.capacityScope = r.word('capacity_scope', 'micro_batch');
  }

  if (r.entry('sinkhorn')) {
    if (core.scoreAfterTopK || r.bool('score_after_topk', false)) d.error('E204', r.keySpan('sinkhorn'), '`sinkhorn` and `score_after_topk` both decide what ranks the experts', 'keep one of them');
    out.sinkhorn = r.num('sinkhorn', 0);
  }

  if (r.value('apply_gates') === 'input') {
    if (core.topK > 1) d.error('E204', r.valueSpan('apply_gates'), `gates on the experts' inputs are defined for one expert per token; this router takes ${core.topK}`, 'use top_k 1 (Llama 4), or apply_gates output');
    out.applyGates = 'input';
  }

  // Losses that mean nothing for this score.
  if (r.num('l1_loss', 0) > 0 && softmax && !r.invalid('score')) {
    d.error('E207', r.valueSpan('l1_loss'), `l1_loss penalises the scores' size, but ${score} scores always sum to 1 per token`, `use it with ${ELEMENTWISE_SCORES.map((s) => `score ${s}`).join(', ')}`);
  }
  return out;
}
