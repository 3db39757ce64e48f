/**
 * Editor support for `.moe` files, written once for the language server
 * (editor/lsp_server.ts) and the playground's editor: diagnostics from the
 * compiler's own checker, completion of keys and values from the schema,
 * and hover text from each key's documentation. Positions are character
 * offsets into the text; each client converts them to its own.
 */
import { checkSpec } from '../compiler/compile.ts';
import { diagnosticToJson, type DiagnosticJson } from '../compiler/diagnostics.ts';
import { ALL_CHOICES, ALL_KEYS, describeType, SECTIONS, type KeyDef, type SectionName, type ValueType } from '../compiler/schema.ts';

/** A compiler diagnostic with the character range it covers. */
export interface EditorDiagnostic extends DiagnosticJson {
  readonly from: number;
  readonly to: number;
}

/** Every diagnostic `moec check` gives for this text (same codes, messages and hints). */
export function diagnose(text: string, path: string): EditorDiagnostic[] {
  const r = checkSpec(text, path);
  return r.diagnostics.map((d) => ({ ...diagnosticToJson(r.file, d), from: d.span.start, to: Math.max(d.span.end, d.span.start + 1) }));
}

export interface Completion {
  readonly label: string;
  readonly kind: 'key' | 'value';
  /** One line: the values a key takes, or the key a value belongs to. */
  readonly detail: string;
  /** The key's documentation. */
  readonly doc: string;
}

/** The section whose block is open at `offset` (braces are counted; comments and strings skipped). */
export function sectionAt(text: string, offset: number): SectionName {
  const stack: SectionName[] = ['file'];
  let lastKey: KeyDef | undefined;
  for (const m of text.slice(0, offset).matchAll(/#[^\n]*|"[^"\n]*"?|[A-Za-z_][A-Za-z0-9_]*|[{}]/g)) {
    const tok = m[0];
    if (tok.startsWith('#') || tok.startsWith('"')) continue;
    if (tok === '{') stack.push(lastKey?.block ?? stack.at(-1)!);
    else if (tok === '}') {
      if (stack.length > 1) stack.pop();
    } else {
      const def = SECTIONS[stack.at(-1)!].find((k) => k.key === tok);
      if (def) lastKey = def;
    }
  }
  return stack.at(-1)!;
}

function choices(t: ValueType): string[] {
  if (t.kind === 'enum') return [...t.values];
  if (t.kind === 'bool') return ['true', 'false'];
  if (t.kind === 'either') return t.of.flatMap(choices);
  return [];
}

function keyDetail(k: KeyDef): string {
  const values = k.values.map((v) => `${v.name}: ${describeType(v.type)}`).join('; ');
  return `${k.key}${values ? ` (${values})` : ''}${k.block ? ' { ... }' : ''}${k.defaultText ? `, default ${k.defaultText}` : ''}`;
}

function keyDoc(k: KeyDef): string {
  return `${k.doc}\n\nExample: \`${k.example}\``;
}

/**
 * What may be written at `offset`: the values of the key just written on
 * this line when it takes a choice (`route ` → token_choice, …), else the
 * keys of the open section.
 */
export function completionsAt(text: string, offset: number): Completion[] {
  const section = sectionAt(text, offset);
  const line = text.slice(text.lastIndexOf('\n', offset - 1) + 1, offset);
  const words = line.replace(/#.*/, '').match(/[A-Za-z_][A-Za-z0-9_]*|\S/g) ?? [];
  // The word being typed (if any) is not a finished one.
  const finished = /\s$/.test(line) || line === '' ? words : words.slice(0, -1);
  const key = SECTIONS[section].find((k) => k.key === finished.at(-1));
  if (key) {
    const values = key.values.flatMap((v) => choices(v.type));
    if (values.length) return values.map((v) => ({ label: v, kind: 'value', detail: `a value of ${key.key}`, doc: keyDoc(key) }));
  }
  return SECTIONS[section].map((k) => ({ label: k.key, kind: 'key', detail: keyDetail(k), doc: keyDoc(k) }));
}

export interface Hover {
  readonly from: number;
  readonly to: number;
  /** Markdown. */
  readonly text: string;
}

/** Documentation of the key or value under `offset`. */
export function hoverAt(text: string, offset: number): Hover | undefined {
  let from = offset;
  let to = offset;
  while (from > 0 && /[A-Za-z0-9_]/.test(text[from - 1]!)) from--;
  while (to < text.length && /[A-Za-z0-9_]/.test(text[to]!)) to++;
  const word = text.slice(from, to);
  if (!word) return undefined;
  const section = sectionAt(text, from);
  const def = SECTIONS[section].find((k) => k.key === word) ?? (ALL_KEYS.includes(word) ? Object.values(SECTIONS).flat().find((k) => k.key === word) : undefined);
  if (def) return { from, to, text: `**${def.key}** — ${keyDetail(def)}\n\n${keyDoc(def)}` };
  if (ALL_CHOICES.includes(word)) {
    const owners = Object.values(SECTIONS).flat().filter((k) => k.values.some((v) => choices(v.type).includes(word)));
    return { from, to, text: `**${word}**: a value of ${owners.map((k) => `\`${k.key}\``).join(', ')}\n\n${owners.map((k) => `${k.key}: ${k.doc}`).join('\n\n')}` };
  }
  return undefined;
}
