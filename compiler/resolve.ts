/**
 * Builds the typed ModelSpec from checked sections: fills defaults, lowers
 * router presets to the routing core, and checks the relations between
 * values (top_k <= experts, heads | width, group | batch, …).
 */
import type { CheckedSection } from './check_keys.ts';
import type { DiagnosticBag } from './diagnostics.ts';
import { Fields } from './fields.ts';
import { resolveRouting } from './resolve_routing.ts';
import { nonCausalReason } from './routing_core.ts';
import type { Activation, RouterPreset } from './schema.ts';
import type { SourceFile } from './source.ts';
import type { ExpertsSpec, FfnShape, MoeFfnSpec, ModelSpec, Origin, OptimizerSpec, ScheduleSpec, SharedSpec, TrainSpec } from './spec.ts';

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
  if (experts.kind !== 'full' && (routing.nullExperts > 0 || routing.applyGates === 'input')) {
    const key = routing.nullExperts > 0 ? 'null_experts' : 'apply_gates';
    d.error('E204', f.block('route').keySpan(key), `\`${key}\` needs full experts, not ${experts.kind}`, 'adapter experts share one frozen FFN that every token runs anyway');
  }
  const why = nonCausalReason(routing);
  if (why) {
    const hint = routing.select === 'token_choice' && routing.sinkhorn === 0 ? 'for a causal LM use capacity none, or top_k 1 with drop_policy by_position' : 'the training loss can use future tokens; for a causal LM prefer token_choice or mixture_of_tokens';
    d.warning('W301', f.valueSpan('route'), `\`${preset}\` routing is not causal: ${why}`, hint);
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
    gate: s.word<SharedSpec['gate']>('gate', 'none'),
    origin: f.origin('shared'),
  };
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
