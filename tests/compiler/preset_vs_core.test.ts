/**
 * Presets are only names: each shipped preset spec lowers to exactly the IR of
 * the same spec with its route written in the core form.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSpec } from '../../compiler/compile.ts';
import { dumpGraph } from '../../compiler/ir_dump.ts';

/** The core form of each shipped spec's route line (written by hand from docs/LANGUAGE.md). */
const CORE_FORMS: Record<string, string> = {
  switch: 'route core { score softmax normalize per_token select token_choice top_k 1 weights raw capacity_factor 1.25 combine gather balance_loss 0.01 }',
  gshard: 'route core { select token_choice top_k 2 capacity_factor 1.25 balance_loss 0.01 }',
  dropless: 'route core { top_k 2 capacity none weights renormalized balance_loss 0.01 }',
  expert_choice: 'route core { normalize per_token select expert_choice capacity_factor 2 }',
  mixture_of_tokens: 'route core { normalize per_expert select all combine mix unmix dispatch group 8 slots 1 temperature 1.0 }',
  soft_moe: 'route core { normalize per_expert select all combine mix unmix slot_softmax group sequence slots 2 }',
  mov: 'route core { score softmax normalize per_token select all combine gather }',
  molora: 'route core { select all }',
};

/** Replaces the (single-line) `route preset { ... }` of a spec with `replacement`. */
function withRoute(text: string, replacement: string): string {
  const re = /route [a-z_]+ \{[^}\n]*\}/;
  expect(text).toMatch(re);
  return text.replace(re, replacement);
}

describe('preset lowering equals the core form', () => {
  for (const [name, core] of Object.entries(CORE_FORMS)) {
    it(name, () => {
      const path = `specs/${name}.moe`;
      const text = readFileSync(path, 'utf8');
      const preset = compileSpec(text, path);
      const direct = compileSpec(withRoute(text, core), path);
      expect(direct.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(direct.spec!.ffn.kind === 'moe' && direct.spec!.ffn.routing).toEqual(preset.spec!.ffn.kind === 'moe' && preset.spec!.ffn.routing);
      expect(dumpGraph(direct.graph!)).toBe(dumpGraph(preset.graph!));
    });
  }

  it('st_moe, deepseekmoe and deepseek_v3_style (multi-line routes) match their core forms', () => {
    const cases: [string, string, string][] = [
      ['st_moe', 'route token_choice {\n      top_k 2\n      capacity_factor 1.25\n      balance_loss 0.01\n      z_loss 0.001\n    }', 'route core {\n      top_k 2\n      capacity_factor 1.25\n      balance_loss 0.01\n      z_loss 0.001\n    }'],
      ['deepseekmoe', 'route token_choice { top_k 2  capacity_factor 1.5  sequence_balance 0.001 }', 'route core { top_k 2  capacity_factor 1.5  sequence_balance 0.001 }'],
      ['deepseek_v3_style', 'route token_choice {\n      top_k 2\n      score sigmoid\n      renormalize true\n      capacity none\n      bias_balance 0.001\n    }', 'route core {\n      top_k 2\n      score sigmoid\n      weights renormalized\n      capacity none\n      bias_balance 0.001\n    }'],
    ];
    for (const [name, from, to] of cases) {
      const path = `specs/${name}.moe`;
      const text = readFileSync(path, 'utf8');
      expect(text).toContain(from);
      const a = compileSpec(text, path);
      const b = compileSpec(text.replace(from, to), path);
      expect(b.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(dumpGraph(b.graph!)).toBe(dumpGraph(a.graph!));
    }
  });
});
