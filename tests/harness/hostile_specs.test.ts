/**
 * Specs may come from strangers: nothing they contain reaches generated
 * TypeScript or WGSL as code. Names become validated identifiers, strings are
 * JSON-quoted (and only land in manifest.json), and comments carry sanitised,
 * single-line ASCII only.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { writeCompiledModel } from '../../codegen/harness/compile_output.ts';
import { className, generateHarness } from '../../codegen/harness/harness.ts';
import { trainPlan } from '../../codegen/train_plan.ts';
import { DEFAULT_TARGET } from '../../codegen/wgsl/kernel.ts';
import { typeCheck } from './type_check.ts';

const PAYLOAD = 'process.exit(7)';

/** Valid specs carrying injection attempts in every place text can hide. */
const HOSTILE: Record<string, string> = {
  'comment breaking out of a line comment': `model x { width 16 heads 2 depth 1 context 8
  ffn moe { experts 2 { hidden 8 } route token_choice { top_k 1 } }  # \u2028${PAYLOAD}; /* */ \u2029${PAYLOAD}
}
train { batch 2 }`,
  'string with quotes, backslashes and line separators': `model x { width 16 heads 2 depth 1 context 8 ffn dense { hidden 8 } }
train { data "a\\"; ${PAYLOAD}; //\\n\u2028${PAYLOAD}" batch 2 }`,
  'names that collide with JavaScript': `model __proto__ { width 16 heads 2 depth 1 context 8 ffn dense { hidden 8 } } # constructor prototype`,
  'a name of digits and underscores': `model _1_2_3 { width 16 heads 2 depth 1 context 8 ffn dense { hidden 8 } }`,
  'WGSL comment terminator in a route line': `model x { width 16 heads 2 depth 1 context 8
  ffn moe { experts 2 { hidden 8 } route token_choice { top_k 1 } } # */ } fn main() { ${PAYLOAD} } /*
}
train { batch 2 }`,
};

/** Identifiers the generated TypeScript uses, outside comments and strings. */
function identifiers(source: string): Set<string> {
  const out = new Set<string>();
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, source);
  for (let k = scanner.scan(); k !== ts.SyntaxKind.EndOfFileToken; k = scanner.scan()) {
    if (k === ts.SyntaxKind.Identifier) out.add(scanner.getTokenText());
  }
  return out;
}

describe('hostile specs cannot inject code', () => {
  for (const [name, text] of Object.entries(HOSTILE)) {
    it(name, () => {
      const r = checkSpec(text, 'hostile.moe');
      expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
      const spec = r.spec!;
      const harness = generateHarness(trainPlan(spec, DEFAULT_TARGET));
      // No payload identifiers in code, only the runtime's own.
      const ids = identifiers(harness);
      expect(ids.has('process')).toBe(false);
      expect(ids.has('exit')).toBe(false);
      // Comments are single-line printable ASCII.
      for (const line of harness.split('\n')) expect(line).toMatch(/^[\x20-\x7e]*$/);
      const dir = join(tmpdir(), `moec-hostile-${process.pid}-${Object.keys(HOSTILE).indexOf(name)}`);
      mkdirSync(dir, { recursive: true });
      try {
        const written = writeCompiledModel(trainPlan(spec, DEFAULT_TARGET), dir);
        expect(typeCheck([written.model])).toEqual([]);
        // The spec's text survives intact, but only as JSON data.
        const manifest = JSON.parse(readFileSync(written.manifest, 'utf8')) as { spec: { text: string } };
        expect(manifest.spec.text).toBe(text);
        // Kernels: every line is printable ASCII, and no payload outside `//` comments.
        for (const f of readdirSync(join(dir, 'kernels'))) {
          const wgsl = readFileSync(join(dir, 'kernels', f), 'utf8');
          for (const line of wgsl.split('\n')) {
            expect(line).toMatch(/^[\x20-\x7e]*$/);
            expect(line.replace(/\/\/.*$/, '')).not.toContain('process');
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('class names are always plain identifiers', () => {
    for (const n of ['switch', '__proto__', 'constructor', '_1_2_3', 'a__b', '9lives']) expect(className(n)).toMatch(/^[A-Z][A-Za-z0-9]*Model$/);
  });
});
