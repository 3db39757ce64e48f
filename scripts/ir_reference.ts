/**
 * Generates the op reference of docs/IR.md from the op definitions in
 * compiler/ops/, so the docs list exactly the ops, operands and attributes
 * the verifier accepts. `npx tsx scripts/ir_reference.ts --write` updates the
 * file; a test fails when it is stale.
 */
import { writeGenerated } from './generated_section.ts';
import type { AttrSpec, OpDoc, OperandSpec } from '../compiler/ops/op_def.ts';
import { defOf, OP_KINDS } from '../compiler/ops/registry.ts';

export const BEGIN = '<!-- BEGIN GENERATED OPS: scripts/ir_reference.ts -->';
export const END = '<!-- END GENERATED OPS -->';

const SECTIONS: Record<OpDoc['section'], string> = {
  model: 'Model ops',
  moe: 'MoE ops',
  loss: 'Router losses (scalar outputs, gradient 1)',
  update: 'After each step (state updates, never differentiated)',
};

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function operands(specs: Readonly<Record<string, OperandSpec>>): string {
  const list = Object.entries(specs).map(([role, o]) => `\`${role}\` ${o.dtype}·${o.rank}d${o.optional ? ' (optional)' : ''}`);
  return list.length ? list.join(', ') : '—';
}

function attrType(a: AttrSpec): string {
  return a.default === undefined ? baseType(a) : `${baseType(a)} (default ${String(a.default)})`;
}

function baseType(a: AttrSpec): string {
  switch (a.type) {
    case 'int':
      return `int ≥ ${a.min ?? 0}`;
    case 'number':
      return 'number';
    case 'bool':
      return 'bool';
    case 'enum':
      return a.values.join(' | ');
  }
}

/** The generated markdown between the markers. */
export function irReference(): string {
  const out: string[] = [BEGIN, '', '## Op signatures (generated from compiler/ops/)', ''];
  out.push('| op | inputs | outputs | attributes |', '|---|---|---|---|');
  for (const kind of OP_KINDS) {
    const s = defOf(kind).signature;
    const attrs = Object.entries(s.attrs).map(([k, a]) => `\`${k}\`: ${attrType(a)}`).join('; ') || '—';
    out.push(`| [\`${kind}\`](../compiler/ops/${kind}.ts) | ${cell(operands(s.inputs))} | ${cell(operands(s.outputs))} | ${cell(attrs)} |`);
  }
  out.push('', 'Optional operands, and what each attribute means:', '');
  for (const kind of OP_KINDS) {
    const s = defOf(kind).signature;
    const notes = [
      ...Object.entries({ ...s.inputs, ...s.outputs }).filter(([, o]) => o.optional).map(([role, o]) => `\`${role}\`: ${o.doc}`),
      ...Object.entries(s.attrs).map(([k, a]) => `\`${k}\`: ${a.doc}`),
    ];
    if (notes.length) out.push(`- \`${kind}\` — ${notes.join('; ')}.`);
  }
  for (const [section, title] of Object.entries(SECTIONS) as [OpDoc['section'], string][]) {
    out.push('', `## ${title}`);
    for (const kind of OP_KINDS) {
      const { doc } = defOf(kind);
      if (doc.section !== section) continue;
      out.push('', `**${kind}** ${doc.math}${doc.backward ? `\nBackward: ${doc.backward}` : ''}`);
    }
  }
  out.push('', END);
  return out.join('\n');
}

if (process.argv.includes('--write')) writeGenerated('docs/IR.md', BEGIN, END, irReference());
