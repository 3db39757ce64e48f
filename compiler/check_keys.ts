/**
 * Checks an AST against the schema: unknown and duplicate keys, value counts,
 * types, ranges and choices, blocks where they are (not) allowed, and route
 * options that do not apply to the chosen router. Produces typed sections for
 * the resolver; never throws on any input.
 */
import type { Block, Document, Entry, Stray, Value } from './ast.ts';
import { ROUTER_PRESETS, SECTIONS, describeType, keyDef, type KeyDef, type RouterPreset, type SectionName, type ValueType } from './schema.ts';
import type { SourceFile, Span } from './source.ts';
import { capped, type DiagnosticBag, type Reporter } from './diagnostics.ts';
import { closest } from './suggest.ts';

/** A checked value: number, string, boolean or choice word. */
export type Scalar = number | string | boolean;

/** One valid entry with typed values. */
export interface CheckedEntry {
  readonly def: KeyDef;
  readonly entry: Entry;
  /** Typed values; invalid ones are reported and left out (shorter array). */
  readonly values: Scalar[];
  readonly valid: boolean;
  readonly block?: CheckedSection;
}

/** A block's entries by key (first occurrence wins; duplicates are reported, except of repeatable keys). */
export interface CheckedSection {
  readonly name: SectionName;
  readonly entries: ReadonlyMap<string, CheckedEntry>;
  /** Every occurrence of each repeatable key, in order (the first is also in `entries`). */
  readonly repeats: ReadonlyMap<string, readonly CheckedEntry[]>;
  /** The block's (or file's) span, for "missing key" diagnostics. */
  readonly span: Span;
}

/** Checks a whole document; the result holds the file-level section. */
export function checkKeys(doc: Document, file: SourceFile, diagnostics: DiagnosticBag): CheckedSection {
  return new KeyChecker(file, capped(diagnostics)).section('file', doc.entries, doc.strays, { start: 0, end: file.text.length }, undefined);
}

class KeyChecker {
  constructor(
    private readonly file: SourceFile,
    private readonly d: Reporter,
  ) {}

  section(name: SectionName, entries: readonly Entry[], strays: readonly Stray[], span: Span, preset: RouterPreset | undefined): CheckedSection {
    for (const s of strays) {
      this.d.error('E010', s.span, `expected a key, found \`${clip(s.text)}\``, `a line starts with a key, e.g. \`${SECTIONS[name][0]?.example ?? 'key value'}\``);
    }
    const out = new Map<string, CheckedEntry>();
    const repeats = new Map<string, CheckedEntry[]>();
    for (const entry of this.flatten(name, entries)) {
      const checked = this.entry(name, entry, preset);
      if (!checked) continue;
      if (checked.def.repeatable) {
        if (!repeats.has(entry.key)) repeats.set(entry.key, []);
        repeats.get(entry.key)!.push(checked);
        if (!out.has(entry.key)) out.set(entry.key, checked);
        continue;
      }
      const first = out.get(entry.key);
      if (first) {
        const line = this.file.position(first.entry.keySpan.start).line;
        this.d.error('E102', entry.keySpan, `\`${entry.key}\` is set twice in this block`, `it was first set on line ${line}; remove one of them`);
        continue;
      }
      out.set(entry.key, checked);
    }
    return { name, entries: out, repeats, span };
  }

  /**
   * Splits entries whose trailing words are really a misspelled key
   * (`top_k 1 capacity_factr 1.25` parses as one entry) and moves inline keys
   * that do not extend their entry (`hidden 64 segments 2`) beside it.
   */
  private flatten(name: SectionName, entries: readonly Entry[]): Entry[] {
    const out: Entry[] = [];
    for (const e of this.keysAsNames(name, entries)) {
      const def = e.known ? keyDef(name, e.key) : undefined;
      const ownInline = def?.inline ?? [];
      let values = e.values;
      const tail: Entry[] = [];
      const misspeltInline: Entry[] = [];
      const cut = def ? splitPoint(def, values) : -1;
      if (cut >= 0) {
        const word = values[cut]!;
        const rest = values.slice(cut + 1);
        values = values.slice(0, cut);
        // A misspelt inline key (`ffn moe evry 2 { ... }`) leaves the block with its
        // entry, whose section then reports it with a "did you mean"; any other
        // word starts a new (unknown) entry that takes the inline keys and block
        // written after it.
        if (closest(word.text, ownInline)) misspeltInline.push(synthetic(word, rest, [], undefined));
        else tail.push(synthetic(word, rest, e.inline, e.block));
      }
      const blockStays = tail.length === 0;
      const inline = blockStays ? e.inline : [];
      const kept = [...misspeltInline, ...inline.filter((i) => ownInline.includes(i.key))];
      // The inline keys of an unknown key belong to it and go unreported with it.
      const moved = def ? inline.filter((i) => !ownInline.includes(i.key)) : [];
      const head: Entry = {
        ...e,
        values,
        inline: kept,
        ...(blockStays && e.block ? { block: e.block } : { block: undefined }),
        span: e.span,
      };
      out.push(head, ...tail, ...moved);
    }
    return out;
  }

  /**
   * `model top_p { ... }` parses as `model` without a name followed by a
   * `top_p { ... }` entry, since keys are reserved words. Such a pair is
   * rejoined, with one error saying the name is a reserved word, instead of
   * a missing name, a missing block and an unknown key.
   */
  private keysAsNames(name: SectionName, entries: readonly Entry[]): Entry[] {
    const out: Entry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const next = entries[i + 1];
      const def = e.known ? keyDef(name, e.key) : undefined;
      if (def?.values[0]?.type.kind === 'name' && def.block && e.values.length === 0 && !e.block && next?.known && next.block && next.values.length === 0 && next.inline.length === 0) {
        this.d.error('E103', next.keySpan, `\`${next.key}\` is a reserved word of the language and cannot name a ${e.key}`, `rename it, e.g. \`${e.key} my_${next.key} { ... }\``);
        const word: Value = { kind: 'word', text: `my_${next.key}`, value: `my_${next.key}`, span: next.keySpan };
        out.push({ ...e, values: [word], block: next.block, span: { start: e.span.start, end: next.span.end } });
        i++;
        continue;
      }
      out.push(e);
    }
    return out;
  }

  private entry(name: SectionName, e: Entry, preset: RouterPreset | undefined): CheckedEntry | undefined {
    const def = e.known ? keyDef(name, e.key) : undefined;
    if (!def) {
      this.unknownKey(name, e);
      return undefined;
    }
    if (name === 'route' && preset && def.presets && !def.presets.includes(preset)) {
      const where = def.presets.filter((p) => p !== 'core');
      this.d.error(
        'E110',
        e.keySpan,
        `\`${e.key}\` does not apply to the \`${preset}\` router`,
        where.length ? `it applies to ${where.join(', ')}${def.presets.includes('core') ? ' and core' : ''}` : 'it applies only to `route core`',
      );
      return undefined;
    }
    const values = this.values(def, e);
    let block: CheckedSection | undefined;
    if (e.block) {
      if (!def.block) {
        this.d.error('E108', e.block.open, `\`${e.key}\` does not take a \`{ ... }\` block`, `write \`${def.example}\``);
      } else {
        const childPreset = def.key === 'route' && typeof values.values[0] === 'string' ? (values.values[0] as RouterPreset) : undefined;
        block = this.section(def.block, [...e.inline, ...e.block.entries], e.block.strays, blockSpan(e.block), childPreset);
      }
    } else if (def.block) {
      if (def.blockRequired) {
        this.d.error('E109', e.span, `\`${e.key}\` needs a \`{ ... }\` block`, `e.g. \`${def.example}\``);
      }
      if (e.inline.length) {
        block = this.section(def.block, e.inline, [], e.span, undefined);
      }
    }
    return { def, entry: e, values: values.values, valid: values.ok, ...(block ? { block } : {}) };
  }

  private unknownKey(name: SectionName, e: Entry): void {
    const here = SECTIONS[name].map((k) => k.key);
    const guess = closest(e.key, here);
    // Every section that has the key: `hidden` belongs in `experts` for MoE models, not only `ffn`.
    const elsewhere = (Object.keys(SECTIONS) as SectionName[]).filter((s) => s !== name && keyDef(s, e.key));
    let hint: string;
    if (guess) hint = `did you mean \`${guess}\`?`;
    else if (elsewhere.length) hint = `\`${e.key}\` belongs in ${orList(elsewhere.map(sectionPhrase))}`;
    else if (ROUTER_PRESETS.includes(e.key as RouterPreset)) hint = `routers are chosen with \`route ${e.key} { ... }\``;
    else hint = `keys here: ${here.join(', ')}`;
    const where = name === 'file' ? 'at the top level' : `in ${sectionPhrase(name)}`;
    this.d.error('E101', e.keySpan, `unknown key \`${e.key}\` ${where}`, hint);
  }

  private values(def: KeyDef, e: Entry): { values: Scalar[]; ok: boolean } {
    const out: Scalar[] = [];
    let ok = true;
    const required = def.values.filter((v) => !v.optional).length;
    if (e.values.length < required) {
      const missing = def.values[e.values.length]!;
      this.d.error('E105', e.keySpan, `\`${e.key}\` needs ${missing.name}: ${describeType(missing.type)}`, `e.g. \`${def.example}\``);
      return { values: out, ok: false };
    }
    const repeats = def.values.at(-1)?.repeat === true;
    if (e.values.length > def.values.length && !repeats) {
      const extra = e.values[def.values.length]!;
      const n = def.values.length;
      this.d.error('E106', extra.span, `\`${e.key}\` takes ${n === 0 ? 'no value' : n === 1 ? 'one value' : `at most ${n} values`}`, `e.g. \`${def.example}\``);
      ok = false;
    }
    e.values.slice(0, repeats ? e.values.length : def.values.length).forEach((v, i) => {
      const slot = def.values[Math.min(i, def.values.length - 1)]!;
      const typed = this.value(def, slot.name, slot.type, v);
      if (typed === undefined) ok = false;
      else out.push(typed);
    });
    return { values: out, ok };
  }

  /** Converts one value to its type, or reports why not. */
  private value(def: KeyDef, slot: string, t: ValueType, v: Value): Scalar | undefined {
    switch (t.kind) {
      case 'either': {
        // Check against the alternative of the value's own kind (number, word or string).
        const pick = t.of.find((o) => matchesKind(o, v));
        if (pick) return this.value(def, slot, pick, v);
        this.d.error('E103', v.span, `\`${def.key}\` expects ${describeType(t)}, found \`${clip(v.text)}\``, `e.g. \`${def.example}\``);
        return undefined;
      }
      case 'int':
      case 'number': {
        if (v.kind !== 'number') {
          this.d.error('E103', v.span, `\`${def.key}\` expects ${t.kind === 'int' ? 'an integer' : 'a number'}, found \`${clip(v.text)}\``, `e.g. \`${def.example}\``);
          return undefined;
        }
        const x = v.value as number;
        if (!Number.isFinite(x)) {
          // `-1e400` overflows to -Infinity: below every minimum, not "too large".
          this.d.error('E104', v.span, `\`${clip(v.text)}\` is too ${x > 0 ? 'large' : 'small'} for \`${def.key}\``, `${slot} is ${describeType(t)}`);
          return undefined;
        }
        if (t.kind === 'int' && !Number.isInteger(x)) {
          this.d.error('E103', v.span, `\`${def.key}\` expects an integer, found \`${clip(v.text)}\``, `${slot} is ${describeType(t)}`);
          return undefined;
        }
        const below = t.kind === 'number' && t.minExclusive ? x <= t.min : x < t.min;
        if (below || x > t.max) {
          this.d.error('E104', v.span, `\`${def.key}\` is ${clip(v.text)}; ${slot} must be ${describeType(t).replace(/^(integer|number) /, '')}`, rangeHint(def.key, t));
          return undefined;
        }
        return x;
      }
      case 'bool': {
        if (v.kind === 'word' && (v.value === 'true' || v.value === 'false')) return v.value === 'true';
        this.d.error('E103', v.span, `\`${def.key}\` expects true or false, found \`${clip(v.text)}\``, `e.g. \`${def.example}\``);
        return undefined;
      }
      case 'enum': {
        if (v.kind === 'word' && t.values.includes(v.value as string)) return v.value as string;
        const guess = v.kind === 'word' ? closest(v.value as string, t.values) : undefined;
        this.d.error(
          v.kind === 'word' ? 'E107' : 'E103',
          v.span,
          `\`${def.key}\` expects ${describeType(t)}, found \`${clip(v.text)}\``,
          guess ? `did you mean \`${guess}\`?` : `e.g. \`${def.example}\``,
        );
        return undefined;
      }
      case 'name': {
        if (v.kind === 'word') return v.value as string;
        this.d.error('E103', v.span, `\`${def.key}\` expects a name, found \`${clip(v.text)}\``, 'names use letters, digits and `_`, e.g. `model my_router { ... }`');
        return undefined;
      }
      case 'string': {
        if (v.kind === 'string') return v.value as string;
        this.d.error('E103', v.span, `\`${def.key}\` expects a "quoted string", found \`${clip(v.text)}\``, `e.g. \`${def.example}\``);
        return undefined;
      }
    }
  }
}

/**
 * Where an entry's values stop and a misspelt key begins, or -1: the first
 * word past the key's value slots, or a word in an optional slot that the
 * slot cannot take but that looks like one of the key's inline keys
 * (`experts 8 segmnts 2`).
 */
function splitPoint(def: KeyDef, values: readonly Value[]): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v.kind !== 'word') continue;
    const slot = def.values[i];
    if (!slot) return i;
    if (slot.optional && !acceptsWord(slot.type, v.text) && closest(v.text, def.inline ?? [])) return i;
  }
  return -1;
}

/** Whether a bare word is a valid value of type `t`. */
function acceptsWord(t: ValueType, word: string): boolean {
  if (t.kind === 'either') return t.of.some((o) => acceptsWord(o, word));
  return t.kind === 'name' || (t.kind === 'bool' && (word === 'true' || word === 'false')) || (t.kind === 'enum' && t.values.includes(word));
}

function matchesKind(t: ValueType, v: Value): boolean {
  if (t.kind === 'int' || t.kind === 'number') return v.kind === 'number';
  if (t.kind === 'string') return v.kind === 'string';
  return v.kind === 'word';
}

function rangeHint(key: string, t: ValueType): string {
  if (key === 'capacity_factor') return 'capacity_factor must be > 0; for no capacity limit write `capacity none`';
  return `valid: ${describeType(t)}`;
}

/** An entry built from a word that was parsed as a value but is really a (misspelled) key. */
function synthetic(word: Value, values: Value[], inline: Entry[], block: Block | undefined): Entry {
  const end = block?.close?.end ?? values.at(-1)?.span.end ?? word.span.end;
  return { key: word.text, keySpan: word.span, known: false, values, inline, ...(block ? { block } : {}), span: { start: word.span.start, end } };
}

function blockSpan(b: Block): Span {
  return { start: b.open.start, end: (b.close ?? b.open).end };
}

/** "a", "a or b", "a, b or c". */
function orList(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? '');
}

function sectionPhrase(s: SectionName): string {
  switch (s) {
    case 'file':
      return 'the top level';
    case 'model':
      return 'the `model` block';
    case 'ffn':
      return 'the `ffn` block';
    case 'experts':
      return 'an `experts { ... }` block';
    case 'shared':
      return 'a `shared { ... }` block';
    case 'route':
      return 'a `route { ... }` block';
    case 'train':
      return 'the `train` block';
    case 'optimizer':
      return 'an `optimizer { ... }` block';
    case 'schedule':
      return 'a `schedule { ... }` block';
  }
}

/** Keeps a huge or binary token readable in a one-line message. */
function clip(s: string): string {
  const printable = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\u00b7');
  return printable.length > 40 ? `${printable.slice(0, 37)}...` : printable;
}
