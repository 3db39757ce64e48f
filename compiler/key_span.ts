/**
 * Where a key is written in a spec's text, for diagnostics found after
 * checking (sizes against a device): the key's own word, on the line an op
 * came from when it appears there, else its first appearance.
 */
import type { Span } from './source.ts';
import type { ModelSpec } from './spec.ts';

/** The span of `key` followed by a value, outside comments; undefined when the spec does not write it. */
export function keySpan(text: string, key: string, preferLine = 0): Span | undefined {
  const pattern = new RegExp(`(^|[\\s{])(${key.replace(/[^A-Za-z0-9_]/g, '')})\\s+\\S`);
  let offset = 0;
  let first: Span | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const code = line.replace(/#.*$/, '');
    const m = pattern.exec(code);
    if (m) {
      const start = offset + m.index + m[1]!.length;
      const span = { start, end: start + m[2]!.length };
      if (i + 1 === preferLine) return span;
      first ??= span;
    }
    offset += line.length + 1;
  }
  return first;
}

/** The span of a 1-based line's text (indentation excluded); the file's start for line 0. */
export function lineSpan(text: string, line: number): Span {
  if (line < 1) return { start: 0, end: 0 };
  const lines = text.split('\n');
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  const body = lines[line - 1] ?? '';
  const indent = body.length - body.trimStart().length;
  return { start: start + indent, end: start + body.trimEnd().length };
}

/** The spec keys, in the order a size is best explained by (an expert tensor's by the experts block), with their values. */
function sizeKeys(spec: ModelSpec, tensor: string): [string, number][] {
  const keys: [string, number][] = [
    ['vocab', spec.vocab],
    ['width', spec.width],
    ['context', spec.context],
    ['batch', spec.train.batch],
  ];
  if (spec.ffn.kind === 'moe') keys.push(['experts', spec.ffn.experts.count], ['hidden', spec.ffn.experts.hidden]);
  else keys.push(['hidden', spec.ffn.hidden]);
  keys.push(['heads', spec.heads], ['depth', spec.depth]);
  if (/\.(experts|moe)\b/.test(tensor)) keys.sort(([a], [b]) => Number(b === 'experts' || b === 'hidden') - Number(a === 'experts' || a === 'hidden'));
  return keys;
}

/**
 * Which keys' values make up a tensor's dimensions, largest dimension first
 * (a dimension of batch·context names both). Values are matched, so two keys
 * of one value are told apart by the tensor's name only.
 */
export function keysOfShape(spec: ModelSpec, shape: readonly number[], tensor = ''): string[] {
  const keys = sizeKeys(spec, tensor);
  const out: string[] = [];
  for (const dim of [...shape].sort((a, b) => b - a)) {
    const single = keys.find(([, v]) => v === dim && v > 1);
    if (single) out.push(single[0]);
    else if (dim % spec.context === 0 && dim / spec.context <= spec.train.batch) out.push('batch', 'context');
  }
  return [...new Set(out)];
}

/** The span of the first of `keys` the spec writes, else of its `model` line. */
export function sizeSpan(text: string, keys: readonly string[], preferLine = 0): Span {
  return keys.map((k) => keySpan(text, k, preferLine)).find((s) => s !== undefined) ?? (preferLine ? lineSpan(text, preferLine) : (keySpan(text, 'model') ?? lineSpan(text, 0)));
}
