/**
 * Generates the reference part of docs/LANGUAGE.md from the schema and the
 * diagnostic codes, so the docs list exactly what the checker accepts.
 * `npx tsx scripts/language_reference.ts --write` updates the file; a test
 * fails when it is stale.
 */
import { writeGenerated } from './generated_section.ts';
import { CODES } from '../compiler/diagnostics.ts';
import { SECTIONS, describeType, type SectionName } from '../compiler/schema.ts';

export const BEGIN = '<!-- BEGIN GENERATED REFERENCE: scripts/language_reference.ts -->';
export const END = '<!-- END GENERATED REFERENCE -->';

const TITLES: Record<SectionName, string> = {
  file: 'Top level',
  model: '`model NAME { ... }`',
  ffn: '`ffn dense|moe { ... }`',
  experts: '`experts N [full|ia3|lora] { ... }`',
  shared: '`shared K { ... }`',
  route: '`route PRESET { ... }`',
  train: '`train { ... }`',
  optimizer: '`optimizer adamw|sgd { ... }`',
  schedule: '`schedule cosine|constant|linear { ... }`',
};

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** The generated markdown between the markers. */
export function languageReference(): string {
  const out: string[] = [BEGIN, '', '## Reference (generated from the schema)', ''];
  for (const [section, keys] of Object.entries(SECTIONS) as [SectionName, (typeof SECTIONS)[SectionName]][]) {
    out.push(`### ${TITLES[section]}`, '');
    const isRoute = section === 'route';
    out.push(`| key | values | default | ${isRoute ? 'routers | ' : ''}meaning | example |`);
    out.push(`|---|---|---|${isRoute ? '---|' : ''}---|---|`);
    for (const k of keys) {
      const values = k.values.length ? k.values.map((v) => `${v.name}: ${describeType(v.type)}${v.optional ? ' (optional)' : ''}`).join('; ') : '—';
      const block = k.block ? ` + \`{ ${k.block} }\`${k.blockRequired ? '' : ' (optional)'}` : '';
      const inline = k.inline?.length ? ` Inline before \`{\`: ${k.inline.map((i) => `\`${i}\``).join(', ')}.` : '';
      const def = k.required ? 'required' : k.defaultText || '—';
      const routers = isRoute ? `${(k.presets ?? []).join(', ')} | ` : '';
      out.push(`| \`${k.key}\` | ${cell(values + block)} | ${cell(def)} | ${routers}${cell(k.doc + inline)} | \`${cell(k.example)}\` |`);
    }
    out.push('');
  }
  out.push('## Diagnostic codes', '', '| code | meaning |', '|---|---|');
  for (const [code, meaning] of Object.entries(CODES)) out.push(`| ${code} | ${meaning} |`);
  out.push('', END);
  return out.join('\n');
}

if (process.argv.includes('--write')) writeGenerated('docs/LANGUAGE.md', BEGIN, END, languageReference());
