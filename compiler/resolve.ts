/**
 * Builds the typed ModelSpec from checked sections: fills defaults, lowers
 * router presets to the routing core, and checks the relations between
 * values (top_k <= experts, heads | width, group | batch, …).
 */
import type { CheckedSection } from './check_keys.ts';
import type { DiagnosticBag } from './diagnostics.ts';
import { Fields } from './fields.ts';
import { resolveLayers } from './resolve_layers.ts';
import type { SourceFile } from './source.ts';
import type { ModelSpec, Origin, OptimizerSpec, ScheduleSpec, TrainSpec } from './spec.ts';

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
  const depth = m.num('depth', 2);
  const resolved = resolveLayers(m, file, width, depth, train, !trainFields.invalid('batch'), d);
  if (!resolved) return undefined;
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
    ffn: resolved.ffn,
    layers: resolved.layers,
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
    data: dataIsFile ? { kind: 'file', path: dataEntry!.values[0] as string } : { kind: t.word<'synthetic' | 'moby_dick'>('data', 'synthetic') },
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
