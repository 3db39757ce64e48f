/**
 * Lowers one MoE feed-forward layer from its routing core to IR ops:
 *
 *   router → select (top_k | top_c | all) → assign (capacity) → expert_ffn → combine
 *   router → mix_weights → mix → expert_ffn → unmix                  (combine mix)
 *   router → select → adapter_ffn                                    (ia3 / lora experts)
 *
 * plus shared experts and router losses. Only the core is read here, never
 * the preset name, so every core combination lowers the same way.
 */
import type { GraphBuilder } from './graph_builder.ts';
import type { Init } from './ir.ts';
import type { RoutingCore } from './routing_core.ts';
import type { MoeFfnSpec, Origin } from './spec.ts';

/** How a model is lowered beyond its shape. */
export interface LowerOptions {
  /**
   * Routing replay: every token-choice layer takes its picks from an input
   * `…moe.replay_expert` [N, k] (a recorded run's token_expert) instead of
   * ranking its experts.
   */
  readonly replayRouting?: boolean;
}

/** Shapes the layer is lowered for. */
export interface LayerShape {
  readonly batch: number;
  readonly seq: number;
  readonly width: number;
  /** Model depth, for the residual-branch init scale. */
  readonly depth: number;
}

/**
 * Capacity per expert under token choice (ROUTING.md): ceil(f·k·T/E) clamped
 * to T, for the T tokens of one scope — the whole call, or one sequence of
 * `seq` tokens with capacity_scope sequence. E counts the computing experts
 * only (not null experts).
 */
export function tokenChoiceCapacity(core: RoutingCore, tokens: number, experts: number, seq = tokens): number | null {
  if (core.capacityFactor === null) return null;
  const scope = core.capacityScope === 'sequence' ? seq : tokens;
  return Math.min(scope, Math.ceil((core.capacityFactor * core.topK * scope) / experts));
}

/** Capacity scopes of a call: 1, or one per sequence. */
function capacityScopes(core: RoutingCore, tokens: number, seq: number): number {
  return core.capacityScope === 'sequence' ? tokens / seq : 1;
}

/** Tokens each expert takes under expert choice: ceil(f·N/E) clamped to N. */
export function expertChoiceCapacity(core: RoutingCore, tokens: number, experts: number): number {
  return Math.min(tokens, Math.ceil(((core.capacityFactor ?? 1) * tokens) / experts));
}

/** Routed-expert rows the expert GEMMs may process (an upper bound; unused rows are skipped). */
export function expertRows(core: RoutingCore, tokens: number, experts: number, groups: number, seq = tokens): number {
  if (core.combine === 'mix') return experts * groups * core.slots;
  switch (core.select) {
    case 'token_choice': {
      const cap = tokenChoiceCapacity(core, tokens, experts, seq);
      return cap === null ? tokens * core.topK : Math.min(tokens * core.topK, experts * cap * capacityScopes(core, tokens, seq));
    }
    case 'expert_choice':
      return experts * expertChoiceCapacity(core, tokens, experts);
    case 'all':
      return experts * tokens;
  }
}

/** Groups a mixing router forms from a [batch, seq] input. */
export function mixGroups(core: RoutingCore, batch: number, seq: number): number {
  return core.group === 'sequence' ? batch : (batch / core.group) * seq;
}

/**
 * Appends the ops of one MoE layer reading `x` [N, width]; returns the name of
 * its output [N, width]. `p` prefixes every tensor and op name.
 */
export function lowerMoeLayer(g: GraphBuilder, ffn: MoeFfnSpec, x: string, p: string, shape: LayerShape, options: LowerOptions = {}): string {
  const core = ffn.routing;
  const N = shape.batch * shape.seq;
  const d = shape.width;
  const E = ffn.experts.count;
  const H = ffn.experts.hidden;
  const at: Origin = ffn.routeOrigin;
  const key = keyOrigin(ffn);
  const std = 0.02;
  const residualStd = 0.02 / Math.sqrt(2 * shape.depth);
  const gated = ffn.experts.activation === 'swiglu';

  // Router: logits (and, when normalised per token or by sigmoid, the scores), over the routed and null experts.
  const slotsTotal = core.combine === 'mix' ? E * core.slots : E + core.nullExperts;
  const weight = g.tensor(`${p}router.weight`, [slotsTotal, d], 'f32', 'param', normal(std));
  const routerIn = core.learnTemperature
    ? { x, weight, log_temperature: g.tensor(`${p}router.log_temperature`, [1], 'f32', 'param', { kind: 'constant', value: Math.log(core.temperature) }) }
    : { x, weight };
  const logits = g.tensor(`${p}logits`, [N, slotsTotal], 'f32', 'activation');
  const probs = core.combine === 'gather' ? g.tensor(`${p}probs`, [N, slotsTotal], 'f32', 'activation') : undefined;
  const routerOut = probs ? { logits, probs } : { logits };
  g.op('router', `${p}router`, routerIn, routerOut, {
    score: core.score,
    normalize: core.normalize,
    temperature: core.temperature,
    learn_temperature: core.learnTemperature,
    jitter: core.jitter,
  }, key('score', 'normalize', 'temperature', 'learn_temperature', 'jitter'));
  if (core.losses.z > 0) {
    const z = g.tensor(`${p}loss.z`, [1], 'f32', 'loss');
    g.op('z_loss', `${p}z_loss`, { logits }, { loss: z }, { beta: core.losses.z }, key('z_loss'));
    g.loss(z);
  }
  if (core.losses.l1 > 0 && probs) {
    const l1 = g.tensor(`${p}loss.l1`, [1], 'f32', 'loss');
    g.op('l1_loss', `${p}l1_loss`, { probs }, { loss: l1 }, { lambda: core.losses.l1 }, key('l1_loss'));
    g.loss(l1);
  }

  let y: string;
  if (core.combine === 'mix') {
    y = lowerMix(g, ffn, x, logits, p, shape, gated, residualStd);
  } else {
    const table = lowerSelect(g, ffn, { logits, probs: probs! }, p, shape, options);
    if (ffn.experts.kind === 'full') {
      const rows = expertRows(core, N, E, 0, shape.seq);
      // The most rows one expert can hold: its capacity (per scope), c, or every token (each token picks an expert at most once).
      const tcCapacity = tokenChoiceCapacity(core, N, E, shape.seq);
      const perExpert = core.select === 'expert_choice' ? expertChoiceCapacity(core, N, E) : core.select === 'token_choice' ? (tcCapacity === null ? N : tcCapacity * capacityScopes(core, N, shape.seq)) : N;
      // Llama 4: each token's input is scaled by its (single) gate before the expert, and the output is not.
      let expertIn = x;
      if (core.applyGates === 'input') {
        expertIn = g.tensor(`${p}gated_input`, [N, d], 'f32', 'activation');
        g.op('scale_rows', `${p}gate_input`, { x, scale: table.tokenGate }, { y: expertIn }, {}, key('apply_gates'));
      }
      const expertOut = g.tensor(`${p}expert_out`, [rows, d], 'f32', 'activation');
      g.op('expert_ffn', `${p}experts`, { x: expertIn, slot_token: table.slotToken, token_slot: table.tokenSlot, expert_offsets: table.offsets, ...expertWeights(g, `${p}experts.`, E, H, d, gated, std, residualStd) }, { out: expertOut }, { activation: ffn.experts.activation, rows, gather: true, rows_per_expert: Math.min(rows, perExpert) }, ffn.experts.origin);
      y = g.tensor(`${p}routed`, [N, d], 'f32', 'activation');
      const gates = core.applyGates === 'input' ? {} : { token_gate: table.tokenGate };
      g.op('combine', `${p}combine`, { expert_out: expertOut, token_slot: table.tokenSlot, ...gates }, { y }, {}, at);
    } else {
      y = lowerAdapters(g, ffn, x, table.tokenExpert, table.tokenGate, p, N, d, 0.02, residualStd);
    }
  }

  if (ffn.shared) {
    const s = ffn.shared;
    let sharedOut = g.tensor(`${p}shared_out`, [N, d], 'f32', 'activation');
    g.op('ffn', `${p}shared`, { x, ...expertWeights(g, `${p}shared.`, s.count, s.hidden, d, s.activation === 'swiglu', std, residualStd) }, { y: sharedOut }, { activation: s.activation, experts: s.count }, s.origin);
    if (s.gate === 'sigmoid') {
      // Qwen-MoE: the shared output times σ(x·w), one learned vector w.
      const weight = g.tensor(`${p}shared.gate_proj.weight`, [1, d], 'f32', 'param', normal(std));
      const gateLogit = g.tensor(`${p}shared.gate_logit`, [N, 1], 'f32', 'activation');
      const gate = g.tensor(`${p}shared.gate_value`, [N, 1], 'f32', 'activation');
      g.op('router', `${p}shared_gate`, { x, weight }, { logits: gateLogit, probs: gate }, { score: 'sigmoid', normalize: 'none', temperature: 1, learn_temperature: false, jitter: 0 }, s.origin);
      const gatedOut = g.tensor(`${p}shared_gated`, [N, d], 'f32', 'activation');
      g.op('scale_rows', `${p}shared_scale`, { x: sharedOut, scale: gate }, { y: gatedOut }, {}, s.origin);
      sharedOut = gatedOut;
    }
    const sum = g.tensor(`${p}y`, [N, d], 'f32', 'activation');
    g.op('add', `${p}add_shared`, { a: y, b: sharedOut }, { y: sum }, {}, s.origin);
    y = sum;
  }
  return y;
}

interface RoutingTable {
  tokenExpert: string;
  tokenGate: string;
  tokenSlot: string;
  slotToken: string;
  offsets: string;
}

/** Selection, capacity and the per-token / per-expert routing tables. */
function lowerSelect(g: GraphBuilder, ffn: MoeFfnSpec, scores: { logits: string; probs: string }, p: string, shape: LayerShape, options: LowerOptions): RoutingTable {
  const core = ffn.routing;
  const key = keyOrigin(ffn);
  const N = shape.batch * shape.seq;
  const E = ffn.experts.count;
  const probs = scores.probs;
  const choices = core.select === 'token_choice' ? core.topK : E;
  const rows = expertRows(core, N, E, 0, shape.seq);
  const t: RoutingTable = {
    tokenExpert: g.tensor(`${p}token_expert`, [N, choices], 'i32', 'index'),
    tokenGate: g.tensor(`${p}token_gate`, [N, choices], 'f32', 'activation'),
    tokenSlot: g.tensor(`${p}token_slot`, [N, choices], 'i32', 'index'),
    slotToken: g.tensor(`${p}slot_token`, [rows], 'i32', 'index'),
    offsets: g.tensor(`${p}expert_offsets`, [E + 1], 'i32', 'index'),
  };
  // load and demand count null experts too: a null expert is chosen like any other.
  const routed = E + core.nullExperts;
  const load = g.tensor(`${p}load`, [routed], 'i32', 'index');
  const demand = g.tensor(`${p}demand`, [routed], 'i32', 'index');
  const tables = { token_slot: t.tokenSlot, slot_token: t.slotToken, expert_offsets: t.offsets, load, demand };
  if (core.select === 'token_choice') {
    const bias = core.losses.biasRate > 0 ? g.tensor(`${p}router.bias`, [routed], 'f32', 'state', { kind: 'zeros' }) : undefined;
    // What ranks the experts: the gates' own scores, the logits (softmax after top-k) or Sinkhorn-balanced scores.
    let rank: string | undefined = core.scoreAfterTopK ? scores.logits : undefined;
    if (core.sinkhorn > 0) {
      rank = g.tensor(`${p}balanced`, [N, routed], 'f32', 'index');
      g.op('sinkhorn', `${p}sinkhorn`, { logits: scores.logits }, { balanced: rank }, { iterations: core.sinkhorn }, key('sinkhorn'));
    }
    const replay = options.replayRouting ? { replay: g.tensor(`${p}replay_expert`, [N, core.topK], 'i32', 'input') } : {};
    const inputs = { probs, ...(bias ? { bias } : {}), ...(rank ? { rank } : {}), ...replay };
    const groups = core.groups ? { groups: core.groups.count, top_groups: core.groups.keep, group_score: core.groups.score } : {};
    const cut = core.cut ? { cut: core.cut.kind, cut_value: core.cut.value } : {};
    g.op('select_top_k', `${p}select`, inputs, { token_expert: t.tokenExpert, token_gate: t.tokenGate }, { k: core.topK, weights: core.weights, scale: core.scale, ...groups, ...cut }, key('top_k', 'groups', 'top_p', 'threshold', 'score_after_topk'));
    const capacity = tokenChoiceCapacity(core, N, E, shape.seq);
    const scope = core.capacityScope === 'sequence' ? shape.seq : N;
    const perSequence = core.capacityScope === 'sequence' && capacity !== null;
    const capWhy = capacity === null ? 'capacity none (dropless)' : `min(${scope}, ceil(${core.capacityFactor} * ${core.topK} * ${scope} / ${E})): capacity_factor * top_k * tokens${perSequence ? ' of a sequence' : ''} / experts`;
    const scopes = capacityScopes(core, N, shape.seq);
    const rowsWhy = capacity === null ? `${N} * ${core.topK}: every choice of every token` : `min(${N} * ${core.topK}, ${E} * ${capacity}${scopes > 1 ? ` * ${scopes}` : ''}): choices, at most capacity per expert${scopes > 1 ? ' and sequence' : ''}`;
    const byProbability = capacity !== null && core.drop === 'by_probability';
    const assignAttrs = {
      experts: E,
      capacity: capacity ?? 0,
      rows,
      null_experts: core.nullExperts,
      ...(capacity !== null ? { drop: core.drop, seq: perSequence ? shape.seq : 0 } : {}),
      may_skip: core.cut !== null,
    };
    g.op('assign', `${p}assign`, { token_expert: t.tokenExpert, ...(byProbability ? { token_gate: t.tokenGate } : {}) }, tables, assignAttrs, key('capacity_factor', 'capacity', 'drop_policy', 'capacity_scope'), { capacity: capWhy, rows: rowsWhy });
    if (core.losses.balance > 0) {
      const l = g.tensor(`${p}loss.balance`, [1], 'f32', 'loss');
      g.op('balance_loss', `${p}balance_loss`, { probs, demand }, { loss: l }, { alpha: core.losses.balance, k: core.topK }, key('balance_loss'));
      g.loss(l);
    }
    if (core.losses.globalBalance > 0) {
      const l = g.tensor(`${p}loss.global_balance`, [1], 'f32', 'loss');
      g.op('global_balance_loss', `${p}global_balance_loss`, { probs, demand }, { loss: l }, { alpha: core.losses.globalBalance, k: core.topK }, key('global_balance'));
      g.loss(l);
    }
    if (core.losses.sequenceBalance > 0) {
      const l = g.tensor(`${p}loss.sequence_balance`, [1], 'f32', 'loss');
      g.op('sequence_balance_loss', `${p}sequence_balance_loss`, { probs, token_expert: t.tokenExpert }, { loss: l }, { alpha: core.losses.sequenceBalance, k: core.topK, batch: shape.batch, seq: shape.seq }, key('sequence_balance'));
      g.loss(l);
    }
    if (bias) {
      g.stateUpdate('bias_update', `${p}bias_update`, { demand }, { bias }, { rate: core.losses.biasRate, k: core.topK }, key('bias_balance'));
    }
  } else if (core.select === 'expert_choice') {
    const c = expertChoiceCapacity(core, N, E);
    g.op('select_top_c', `${p}select`, { probs }, { token_expert: t.tokenExpert, token_gate: t.tokenGate, ...tables }, { c }, key('capacity_factor'), { c: `min(${N}, ceil(${core.capacityFactor ?? 1} * ${N} / ${E})): capacity_factor * tokens / experts` });
  } else {
    g.op('select_all', `${p}select`, { probs }, { token_expert: t.tokenExpert, token_gate: t.tokenGate, ...tables }, {}, ffn.routeOrigin);
  }
  return t;
}

/** Mixture of Tokens / Soft MoE: mix tokens into slots, run the experts on slots, unmix. */
function lowerMix(g: GraphBuilder, ffn: MoeFfnSpec, x: string, logits: string, p: string, shape: LayerShape, gated: boolean, residualStd: number): string {
  const core = ffn.routing;
  const key = keyOrigin(ffn);
  const N = shape.batch * shape.seq;
  const d = shape.width;
  const E = ffn.experts.count;
  const S = E * core.slots;
  const groups = mixGroups(core, shape.batch, shape.seq);
  const dispatch = g.tensor(`${p}dispatch`, [N, S], 'f32', 'activation');
  const combineW = g.tensor(`${p}combine_weights`, [N, S], 'f32', 'activation');
  const groupAttrs = { group: core.group === 'sequence' ? 0 : core.group, batch: shape.batch, seq: shape.seq, groups };
  g.op('mix_weights', `${p}mix_weights`, { logits }, { dispatch, combine_weights: combineW }, { ...groupAttrs, unmix: core.unmix }, key('group', 'unmix'));
  const rows = E * groups * core.slots;
  const slotsIn = g.tensor(`${p}slots_in`, [rows, d], 'f32', 'activation');
  g.op('mix', `${p}mix`, { x, dispatch }, { slots_in: slotsIn }, { ...groupAttrs, slots: core.slots }, key('group', 'slots'));
  const out = g.tensor(`${p}expert_out`, [rows, d], 'f32', 'activation');
  const weights = expertWeights(g, `${p}experts.`, E, ffn.experts.hidden, d, gated, 0.02, residualStd);
  g.op('expert_ffn', `${p}experts`, { x: slotsIn, ...weights }, { out }, { activation: ffn.experts.activation, rows, gather: false, rows_per_expert: groups * core.slots }, ffn.experts.origin);
  const y = g.tensor(`${p}routed`, [N, d], 'f32', 'activation');
  g.op('unmix', `${p}unmix`, { expert_out: out, combine_weights: combineW }, { y }, { ...groupAttrs, slots: core.slots }, key('unmix', 'group', 'slots'));
  return y;
}

/**
 * MoV (IA3) or MoLoRA: adapters over one frozen base FFN, weighted by the
 * router, lowered to small ops: (lora_)linear → activation → (ia3_scale) → (lora_)linear.
 */
function lowerAdapters(g: GraphBuilder, ffn: MoeFfnSpec, x: string, tokenExpert: string, tokenGate: string, p: string, N: number, d: number, std: number, residualStd: number): string {
  const ex = ffn.experts;
  const H = ex.hidden;
  const E = ex.count;
  const gated = ex.activation === 'swiglu';
  const at = ex.origin;
  const routing = { token_expert: tokenExpert, token_gate: tokenGate };
  const project = (name: 'up' | 'gate' | 'down', input: string, out: number, inp: number, initStd: number): string => {
    const weight = g.tensor(`${p}base.${name}.weight`, [out, inp], 'f32', 'frozen', normal(initStd));
    const y = g.tensor(`${p}${name}_pre`, [N, out], 'f32', 'activation');
    if (ex.kind === 'lora') {
      const r = ex.rank;
      const a = g.tensor(`${p}experts.${name}.lora_a`, [E, r, inp], 'f32', 'param', normal(1 / Math.sqrt(inp)));
      const b = g.tensor(`${p}experts.${name}.lora_b`, [E, out, r], 'f32', 'param', { kind: 'zeros' });
      g.op('lora_linear', `${p}${name}`, { x: input, weight, lora_a: a, lora_b: b, ...routing }, { y }, { scale: ex.alpha / r }, at);
    } else {
      g.op('linear', `${p}${name}`, { x: input, weight }, { y }, {}, at);
    }
    return y;
  };
  const up = project('up', x, H, d, std);
  const actIn = gated ? { x: up, gate: project('gate', x, H, d, std) } : { x: up };
  let h = g.tensor(`${p}hidden`, [N, H], 'f32', 'activation');
  g.op('activation', `${p}activation`, actIn, { y: h }, { activation: ex.activation }, at);
  if (ex.kind === 'ia3') {
    const scaled = g.tensor(`${p}hidden_scaled`, [N, H], 'f32', 'activation');
    const scale = g.tensor(`${p}experts.ia3.scale`, [E, H], 'f32', 'param', { kind: 'ones' });
    g.op('ia3_scale', `${p}ia3`, { x: h, scale, ...routing }, { y: scaled }, {}, at);
    h = scaled;
  }
  return project('down', h, d, H, residualStd);
}

/**
 * The origin of the first of `keys` written in the route block (so a kernel
 * cites `top_k 2` on its own line), else the route line itself.
 */
function keyOrigin(ffn: MoeFfnSpec): (...keys: string[]) => Origin {
  return (...keys) => keys.map((k) => ffn.routeKeys[k]).find((o) => o !== undefined && o.line > 0) ?? ffn.routeOrigin;
}

/** Up / (gate) / down weights of K FFNs, PyTorch [out, in] layout per expert. */
export function expertWeights(g: GraphBuilder, p: string, K: number, H: number, d: number, gated: boolean, std: number, residualStd: number): { up: string; down: string; gate?: string } {
  const up = g.tensor(`${p}up.weight`, [K, H, d], 'f32', 'param', normal(std));
  const down = g.tensor(`${p}down.weight`, [K, d, H], 'f32', 'param', normal(residualStd));
  return gated ? { up, down, gate: g.tensor(`${p}gate.weight`, [K, H, d], 'f32', 'param', normal(std)) } : { up, down };
}

function normal(std: number): Init {
  return { kind: 'normal', std };
}
