/**
 * One `ffn` definition resolved: a dense FFN, or an MoE layer with its
 * experts, shared experts and router (compiler/resolve_routing.ts), and the
 * checks between them.
 */
import type { DiagnosticBag } from './diagnostics.ts';
import type { Fields } from './fields.ts';
import { resolveRouting } from './resolve_routing.ts';
import { nonCausalReason } from './routing_core.ts';
import type { Activation, RouterPreset } from './schema.ts';
import type { DenseFfnSpec, ExpertsSpec, FfnShape, MoeFfnSpec, Origin, SharedSpec, TrainSpec } from './spec.ts';

const DENSE_KEYS = ['hidden', 'activation', 'blocks'];
const MOE_KEYS = ['every', 'first_dense', 'blocks', 'dense_hidden', 'experts', 'shared', 'route'];

/** `ffn dense { ... }`. */
export function resolveDense(f: Fields, origin: Origin, width: number, d: DiagnosticBag): DenseFfnSpec {
  for (const e of f.writtenOutside(DENSE_KEYS)) {
    d.error('E110', e.entry.keySpan, `\`${e.def.key}\` applies only to \`ffn moe\``, 'this model is dense (`ffn dense`); write `ffn moe { ... }` for experts');
  }
  return { kind: 'dense', hidden: f.num('hidden', 4 * width), activation: f.word<Activation>('activation', 'gelu'), origin };
}

/**
 * `ffn moe { ... }`. `pattern` is false for a definition written with
 * `blocks` (every and first_dense do not apply to it).
 */
export function resolveMoe(f: Fields, origin: Origin, width: number, depth: number, train: TrainSpec, batchKnown: boolean, pattern: boolean, d: DiagnosticBag): MoeFfnSpec | undefined {
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
  if (pattern && moeBlocks === 0) {
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

