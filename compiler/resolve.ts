/**
 * Builds the typed ModelSpec from checked sections: fills defaults, lowers
 * router presets to the routing core, and checks the relations between
 * values (top_k <= experts, heads | width, group | batch, …).
 */
import { ELEMENTWISE_SCORES, SCORE_FUNCTIONS, type ScoreName } from './score_functions.ts';
import type { CheckedEntry, CheckedSection, Scalar } from './check_keys.ts';
import type { DiagnosticBag } from './diagnostics.ts';
import { CORE_DEFAULTS, isNonCausal, type RoutingCore } from './routing_core.ts';
import type { Activation, RouterPreset } from './schema.ts';
import type { SourceFile, Span } from './source.ts';
import type { ExpertsSpec, FfnShape, MoeFfnSpec, ModelSpec, Origin, OptimizerSpec, ScheduleSpec, SharedSpec, TrainSpec } from './spec.ts';

/** Typed access to one checked block, with defaults for absent keys. */
class Fields {
  constructor(
    readonly section: CheckedSection | undefined,
    private readonly file: SourceFile,
  ) {}

  entry(key: string): CheckedEntry | undefined {
    const e = this.section?.entries.get(key);
    return e && e.valid ? e : undefined;
  }

  /** True when the key was written (valid or not), so defaults do not mask errors. */
  written(key: string): boolean {
    return this.section?.entries.has(key) ?? false;
  }

  /**
   * True when any of `keys` was written with a bad value. That value was
   * already reported, and a relation check on the default standing in for it
   * would report a second, misleading error ("heads 6 does not divide width 64"
   * after `width 30000`), so such checks are skipped.
   */
  invalid(...keys: string[]): boolean {
    return keys.some((k) => this.written(k) && !this.entry(k));
  }

  value(key: string, i = 0): Scalar | undefined {
    return this.entry(key)?.values[i];
  }

  num(key: string, fallback: number): number {
    const v = this.value(key);
    return typeof v === 'number' ? v : fallback;
  }

  word<T extends string>(key: string, fallback: T): T {
    const v = this.value(key);
    return typeof v === 'string' ? (v as T) : fallback;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key);
    return typeof v === 'boolean' ? v : fallback;
  }

  block(key: string): Fields {
    return new Fields(this.section?.entries.get(key)?.block, this.file);
  }

  /** Span of the key's first value (or the key itself) for relation errors. */
  valueSpan(key: string, i = 0): Span {
    const e = this.section?.entries.get(key)?.entry;
    if (!e) return this.section ? { start: this.section.span.start, end: this.section.span.start + 1 } : { start: 0, end: 0 };
    return e.values[i]?.span ?? e.keySpan;
  }

  keySpan(key: string): Span {
    return this.section?.entries.get(key)?.entry.keySpan ?? this.valueSpan(key);
  }

  origin(key: string): Origin {
    const e = this.section?.entries.get(key)?.entry;
    if (!e) return { line: 0, text: '' };
    const line = this.file.position(e.keySpan.start).line;
    return { line, text: this.file.lineText(line).trim() };
  }

  /** The origin of one written entry, its text the entry itself (`top_k 2`), not the whole line. */
  entryOrigin(key: string): Origin {
    const e = this.section?.entries.get(key)?.entry;
    if (!e) return { line: 0, text: '' };
    const end = e.values.at(-1)?.span.end ?? e.keySpan.end;
    return { line: this.file.position(e.keySpan.start).line, text: this.file.text.slice(e.keySpan.start, end).replace(/\s+/g, ' ') };
  }

  /** Origins of every entry written directly in this section, by key. */
  entryOrigins(): Record<string, Origin> {
    return Object.fromEntries([...(this.section?.entries.keys() ?? [])].map((k) => [k, this.entryOrigin(k)]));
  }

  /** Keys written here that are not in `allowed`. */
  writtenOutside(allowed: readonly string[]): CheckedEntry[] {
    return [...(this.section?.entries.values() ?? [])].filter((e) => !allowed.includes(e.def.key));
  }
}

/** Resolves a checked file into a ModelSpec, or undefined if a required part is missing. */
export function resolveSpec(root: CheckedSection, file: SourceFile, d: DiagnosticBag): ModelSpec | undefined {
  const top = new Fields(root, file);
  if (!top.written('model')) {
    d.error('E111', { start: 0, end: 0 }, 'no `model` block in this file', 'a spec starts with `model NAME { ... }`; see docs/LANGUAGE.md');
    return undefined;
  }
  const m = top.block('model');
  const trainFields = top.block('train');
  const train = resolveTrain(trainFields, d);
  const width = m.num('width', 64);
  const heads = m.num('heads', 4);
  const vocab = m.num('vocab', 256);
  if (!m.invalid('width', 'heads')) checkHeads(m, width, heads, d);
  if (vocab < 256) {
    d.error('E203', m.valueSpan('vocab'), `vocab ${vocab} is smaller than the 256 byte values the data uses`, 'all built-in and file data is byte-level: use vocab 256');
  }
  if (!m.written('ffn')) {
    d.error('E111', m.keySpan('ffn'), 'the model has no `ffn` line', 'add `ffn dense { hidden 256 }` or `ffn moe { experts 8 { ... } route token_choice { ... } }`');
    return undefined;
  }
  // A bad ffn kind (E107) or a missing block (E109) is already reported; checking the
  // block against a guessed kind would only add misleading errors.
  if (m.invalid('ffn') || !m.section?.entries.get('ffn')?.entry.block) return undefined;
  const ffnFields = m.block('ffn');
  const depth = m.num('depth', 2);
  const ffnKind = m.word<'dense' | 'moe'>('ffn', 'dense');
  const ffn = ffnKind === 'dense' ? resolveDense(ffnFields, m, width, d) : resolveMoe(ffnFields, m.origin('ffn'), width, depth, train, !trainFields.invalid('batch'), d);
  if (!ffn) return undefined;
  const name = typeof top.value('model') === 'string' ? (top.value('model') as string) : 'model';
  const modelOrigin = top.origin('model');
  const origins: Record<string, Origin> = { model: modelOrigin };
  for (const key of ['vocab', 'context', 'width', 'depth', 'heads', 'norm', 'position', 'tie_embeddings']) {
    origins[key] = m.written(key) ? m.origin(key) : modelOrigin;
  }
  return {
    name,
    vocab,
    context: m.num('context', 64),
    width,
    depth,
    heads,
    norm: m.word('norm', 'rms'),
    position: m.word('position', 'learned'),
    tieEmbeddings: m.bool('tie_embeddings', true),
    ffn,
    train,
    origins,
    source: { path: file.path, text: file.text },
  };
}

/** Heads must split width evenly, and rotary needs an even head size. */
function checkHeads(m: Fields, width: number, heads: number, d: DiagnosticBag): void {
  if (m.entry('heads') && width % heads !== 0) {
    d.error('E202', m.valueSpan('heads'), `heads ${heads} does not divide width ${width}`, `try heads ${largestDivisorAtMost(width, heads)}`);
  } else if (m.word<'learned' | 'rotary'>('position', 'learned') === 'rotary' && (width / heads) % 2 !== 0) {
    d.error('E202', m.valueSpan('position'), `rotary encoding needs an even head size; width/heads is ${width / heads}`, 'change width or heads so width/heads is even');
  }
}

const DENSE_KEYS = ['hidden', 'activation'];
const MOE_KEYS = ['every', 'first_dense', 'dense_hidden', 'experts', 'shared', 'route'];

function resolveDense(f: Fields, model: Fields, width: number, d: DiagnosticBag): ModelSpec['ffn'] {
  for (const e of f.writtenOutside(DENSE_KEYS)) {
    d.error('E110', e.entry.keySpan, `\`${e.def.key}\` applies only to \`ffn moe\``, 'this model is dense (`ffn dense`); write `ffn moe { ... }` for experts');
  }
  return { kind: 'dense', hidden: f.num('hidden', 4 * width), activation: f.word<Activation>('activation', 'gelu'), origin: model.origin('ffn') };
}

function resolveMoe(f: Fields, origin: Origin, width: number, depth: number, train: TrainSpec, batchKnown: boolean, d: DiagnosticBag): MoeFfnSpec | undefined {
  for (const e of f.writtenOutside(MOE_KEYS)) {
    d.error('E110', e.entry.keySpan, `\`${e.def.key}\` applies only to \`ffn dense\``, `for MoE blocks set \`${e.def.key}\` inside \`experts { ... }\`, and the dense blocks' size with \`dense_hidden\``);
  }
  if (!f.written('experts')) {
    d.error('E111', f.section?.span ?? { start: 0, end: 0 }, 'an MoE ffn needs an `experts` line', 'e.g. `experts 8 { hidden 128 }`');
    return undefined;
  }
  if (!f.written('route')) {
    d.error('E111', f.section?.span ?? { start: 0, end: 0 }, 'an MoE ffn needs a `route` line', 'e.g. `route token_choice { top_k 1 }`');
    return undefined;
  }
  const experts = resolveExperts(f, width, d);
  const every = f.num('every', 1);
  const firstDense = f.num('first_dense', 0);
  let moeBlocks = 0;
  for (let b = 0; b < depth; b++) if (b >= firstDense && (b + 1) % every === 0) moeBlocks++;
  if (moeBlocks === 0) {
    d.warning('W302', f.written('every') ? f.keySpan('every') : f.keySpan('first_dense'), `no block of this depth-${depth} model gets an MoE layer`, 'lower `every` or `first_dense`, or raise depth');
  }
  const dense: FfnShape = { hidden: f.num('dense_hidden', experts.hidden * experts.segments), activation: experts.activation };
  const shared = resolveShared(f, experts, d);
  const preset = f.word<RouterPreset>('route', 'token_choice');
  const routing = resolveRouting(f.block('route'), preset, experts, train, batchKnown, f, d);
  if (experts.kind !== 'full' && routing.combine === 'mix') {
    d.error('E204', f.valueSpan('experts', 1), `${experts.kind} experts cannot be used with a mixing router`, 'adapter experts work with token_choice, expert_choice or soft_merge routing');
  }
  if (isNonCausal(routing)) {
    const why = routing.select === 'expert_choice' ? 'experts choose among all tokens of the batch, so a token\'s routing depends on later tokens' : 'each slot mixes a whole sequence, so a token\'s output depends on later tokens';
    d.warning('W301', f.valueSpan('route'), `\`${preset}\` routing is not causal: ${why}`, 'the training loss can use future tokens; for a causal LM prefer token_choice or mixture_of_tokens');
  }
  return { kind: 'moe', every, firstDense, dense, experts, shared, preset, routing, routeOrigin: f.origin('route'), routeKeys: f.block('route').entryOrigins(), origin };
}

function resolveExperts(f: Fields, width: number, d: DiagnosticBag): ExpertsSpec {
  const e = f.block('experts');
  const count = f.num('experts', 8);
  const kind = (f.value('experts', 1) as ExpertsSpec['kind'] | undefined) ?? 'full';
  const hidden = e.num('hidden', 4 * width);
  const segments = e.num('segments', 1);
  // A bad `experts` line (count or kind) is already reported and its kind unknown.
  if (kind !== 'lora' && !f.invalid('experts')) {
    for (const key of ['rank', 'alpha']) {
      if (e.written(key)) d.error('E110', e.keySpan(key), `\`${key}\` applies only to \`lora\` experts`, 'write `experts N lora { rank 4 }`');
    }
  }
  if (segments > 1 && hidden % segments !== 0 && !e.invalid('hidden')) {
    d.error('E202', e.valueSpan('segments'), `segments ${segments} does not divide hidden ${hidden}`, `each expert's hidden ${hidden} is split into ${segments} equal parts`);
  }
  if (segments > 1 && kind !== 'full') {
    d.error('E204', e.valueSpan('segments'), `segments need full experts, not ${kind}`, 'fine-grained segmentation splits full FFN experts');
  }
  const rank = e.num('rank', 4);
  return {
    count: count * segments,
    hidden: Math.max(1, Math.floor(hidden / segments)),
    segments,
    activation: e.word<Activation>('activation', 'gelu'),
    kind,
    rank,
    alpha: e.num('alpha', rank),
    origin: f.origin('experts'),
  };
}

function resolveShared(f: Fields, experts: ExpertsSpec, d: DiagnosticBag): SharedSpec | null {
  if (!f.entry('shared')) return null;
  if (experts.kind !== 'full') {
    d.error('E204', f.keySpan('shared'), `shared experts need full routed experts, not ${experts.kind}`, 'ia3 and lora experts already share one frozen base FFN');
  }
  const s = f.block('shared');
  return {
    count: f.num('shared', 1),
    hidden: s.num('hidden', experts.hidden),
    activation: s.word<Activation>('activation', experts.activation),
    origin: f.origin('shared'),
  };
}

/** Lowers a preset (or the core form) to the routing core, checking relations. */
function resolveRouting(r: Fields, preset: RouterPreset, experts: ExpertsSpec, train: TrainSpec, batchKnown: boolean, ffn: Fields, d: DiagnosticBag): RoutingCore {
  const baseExperts = experts.count / experts.segments;
  const losses = {
    balance: r.num('balance_loss', 0),
    z: r.num('z_loss', 0),
    sequenceBalance: r.num('sequence_balance', 0),
    biasRate: r.num('bias_balance', 0),
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
  const topK = (): number => {
    const k = r.num('top_k', 1);
    if (k > baseExperts && !ffn.invalid('experts')) {
      d.error('E201', r.valueSpan('top_k'), `top_k ${k} exceeds the ${baseExperts} experts`, `top_k is at most the expert count (${baseExperts})`);
    }
    return Math.min(k, baseExperts) * experts.segments;
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
        weights: r.bool('renormalize', false) ? 'renormalized' : 'raw',
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
  if (core.weights === 'renormalized' && core.select === 'token_choice' && core.topK === 1) {
    d.warning('W302', r.keySpan(preset === 'core' ? 'weights' : 'renormalize'), 'with one expert per token every renormalized gate is 1', 'the router then learns only from the auxiliary losses; use top_k 2 or raw weights');
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
    weights: select === 'token_choice' ? r.word<RoutingCore['weights']>('weights', 'raw') : 'raw',
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
    for (const k of ['top_k', 'weights', 'capacity', 'balance_loss', 'sequence_balance', 'bias_balance']) {
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

function resolveTrain(t: Fields, d: DiagnosticBag): TrainSpec {
  const steps = t.num('steps', 300);
  const opt = t.block('optimizer');
  const kind = t.word<'adamw' | 'sgd'>('optimizer', 'adamw');
  const onlyFor = kind === 'adamw' ? ['momentum'] : ['beta1', 'beta2', 'eps'];
  // With a bad optimizer kind (already reported) no setting can be judged.
  for (const key of t.invalid('optimizer') ? [] : onlyFor) {
    if (opt.written(key)) d.error('E110', opt.keySpan(key), `\`${key}\` does not apply to ${kind}`, kind === 'adamw' ? 'momentum is an sgd setting' : `${key} is an adamw setting`);
  }
  const optimizer: OptimizerSpec = {
    kind,
    lr: opt.num('lr', 3e-3),
    beta1: opt.num('beta1', 0.9),
    beta2: opt.num('beta2', 0.95),
    eps: opt.num('eps', 1e-8),
    weightDecay: opt.num('weight_decay', 0.1),
    momentum: opt.num('momentum', 0.9),
  };
  const sch = t.block('schedule');
  const warmup = sch.num('warmup', Math.round(steps * 0.1));
  if (warmup > steps && !t.invalid('steps')) {
    d.warning('W302', sch.valueSpan('warmup'), `warm-up (${warmup} steps) is longer than training (${steps} steps)`, 'the learning rate never reaches its peak');
  }
  const schedule: ScheduleSpec = { kind: t.word('schedule', 'cosine'), warmup, minLr: sch.num('min_lr', 0.1) };
  // A quoted "synthetic" is a file of that name; the bare word is the built-in corpus.
  const dataEntry = t.entry('data');
  const dataIsFile = dataEntry?.entry.values[0]?.kind === 'string';
  return {
    data: dataIsFile ? { kind: 'file', path: dataEntry!.values[0] as string } : { kind: 'synthetic' },
    batch: t.num('batch', 16),
    steps,
    accumulate: t.num('accumulate', 1),
    optimizer,
    schedule,
    clip: t.num('clip', 1),
    seed: t.num('seed', 1),
    evalEvery: t.num('eval_every', 50),
    checkpointEvery: t.num('checkpoint_every', 100),
    validation: t.num('validation', 0.1),
  };
}

function largestDivisorAtMost(n: number, k: number): number {
  for (let x = Math.min(n, k); x > 1; x--) if (n % x === 0) return x;
  return 1;
}
