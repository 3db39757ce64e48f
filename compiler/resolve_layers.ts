/**
 * Which feed-forward layer each block gets. A model writes one `ffn` for
 * every block (an MoE `ffn` picks its blocks with `every` and
 * `first_dense`), and may add more `ffn` lines with `blocks b ...`, each
 * giving the listed blocks their own layer: dense, or MoE with its own
 * experts and routing. So any pattern of dense and MoE layers, and layers
 * routed differently, are one spec.
 */
import type { CheckedEntry } from './check_keys.ts';
import type { DiagnosticBag } from './diagnostics.ts';
import { Fields } from './fields.ts';
import { resolveDense, resolveMoe } from './resolve_ffn.ts';
import type { SourceFile } from './source.ts';
import type { DenseFfnSpec, MoeFfnSpec, Origin, TrainSpec } from './spec.ts';

type Ffn = DenseFfnSpec | MoeFfnSpec;

export interface Layers {
  /** The model's main FFN: its first MoE definition, else its dense one (what single-layer tools describe). */
  readonly ffn: Ffn;
  /** The FFN of each block, in order. */
  readonly layers: readonly Ffn[];
}

interface Definition {
  readonly fields: Fields;
  readonly entry: CheckedEntry;
  readonly blocks: readonly number[] | null;
  readonly spec: Ffn;
}

function originOf(file: SourceFile, e: CheckedEntry): Origin {
  const line = file.position(e.entry.keySpan.start).line;
  return { line, text: file.lineText(line).trim() };
}

/** The layers of a model of `depth` blocks, from its `ffn` entries; undefined when one cannot be resolved (already reported). */
export function resolveLayers(model: Fields, file: SourceFile, width: number, depth: number, train: TrainSpec, batchKnown: boolean, d: DiagnosticBag): Layers | undefined {
  const entries = model.section?.repeats.get('ffn') ?? [];
  const definitions: Definition[] = [];
  for (const entry of entries) {
    // A bad kind (E107) or a missing block (E109) is already reported; checking the block
    // against a guessed kind would only add misleading errors.
    if (!entry.valid || !entry.entry.block || !entry.block) return undefined;
    const fields = new Fields(entry.block, file);
    const listed = fields.written('blocks') ? ((fields.entry('blocks')?.values ?? []) as number[]) : null;
    if (fields.written('blocks') && !fields.entry('blocks')) return undefined;
    const origin = originOf(file, entry);
    const spec = entry.values[0] === 'moe' ? resolveMoe(fields, origin, width, depth, train, batchKnown, listed === null, d) : resolveDense(fields, origin, width, d);
    if (!spec) return undefined;
    if (listed) {
      for (const key of ['every', 'first_dense', 'dense_hidden']) {
        if (fields.written(key)) d.error('E203', fields.keySpan(key), `\`${key}\` applies to the ffn written without \`blocks\`; this one is for blocks ${listed.join(', ')}`, 'the blocks listed get this layer; the others get the ffn without `blocks`');
      }
    }
    definitions.push({ fields, entry, blocks: listed, spec });
  }

  const defaults = definitions.filter((x) => x.blocks === null);
  for (const extra of defaults.slice(1)) {
    const line = file.position(defaults[0]!.entry.entry.keySpan.start).line;
    d.error('E102', extra.entry.entry.keySpan, '`ffn` without `blocks` is set twice', `the first is on line ${line}; give this one \`blocks b ...\` to choose the blocks it is for`);
  }
  const fallback = defaults[0];

  // Each listed block: inside the model, and listed once.
  const owner = new Map<number, Definition>();
  for (const def of definitions) {
    (def.blocks ?? []).forEach((b, i) => {
      const span = def.fields.valueSpan('blocks', i);
      if (b >= depth) d.error('E104', span, `block ${b} does not exist: the model has ${depth} blocks (0–${depth - 1})`, 'blocks count from 0; raise `depth` or list fewer blocks');
      else if (owner.has(b)) d.error('E203', span, `block ${b} already has an ffn (line ${file.position(owner.get(b)!.entry.entry.keySpan.start).line})`, 'list each block in one ffn only');
      else owner.set(b, def);
    });
  }

  const layers: Ffn[] = [];
  for (let b = 0; b < depth; b++) {
    const own = owner.get(b)?.spec;
    if (own) {
      layers.push(own);
      continue;
    }
    const f = fallback?.spec;
    if (!f) {
      d.error('E111', model.keySpan('ffn'), `block ${b} has no ffn: every \`ffn\` lists its blocks and none lists ${b}`, `add \`ffn dense { hidden ${4 * width} }\` (without \`blocks\`) for the other blocks, or list block ${b}`);
      return undefined;
    }
    const moe = f.kind === 'moe' && b >= f.firstDense && (b + 1) % f.every === 0;
    layers.push(f.kind === 'dense' || moe ? f : { kind: 'dense', ...f.dense, origin: f.origin });
  }
  const main = definitions.find((x) => x.spec.kind === 'moe') ?? fallback ?? definitions[0]!;
  return { ffn: main.spec, layers };
}
