/**
 * Every shipped spec parses, checks and lowers; its IR dump is a golden
 * snapshot, so any change to lowering shows up as a reviewable diff.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSpec } from '../../compiler/compile.ts';
import { dumpGraph } from '../../compiler/ir_dump.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';

const specs = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();

describe('shipped specs', () => {
  it('include every seed variant', () => {
    for (const name of ['switch', 'gshard', 'st_moe', 'dropless', 'expert_choice', 'mixture_of_tokens', 'deepseekmoe', 'deepseek_v3_style', 'soft_moe', 'mov', 'molora', 'dense', 'sigmoid_expert_choice']) {
      expect(specs).toContain(`${name}.moe`);
    }
  });

  for (const file of specs) {
    it(`${file} checks without errors and lowers to its golden IR`, async () => {
      const path = `specs/${file}`;
      const result = compileSpec(readFileSync(path, 'utf8'), path);
      expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(result.graph).toBeDefined();
      await expect(dumpGraph(result.graph!)).toMatchFileSnapshot(`../__snapshots__/ir/${file.replace('.moe', '.ir')}`);
      if (result.spec!.ffn.kind === 'moe') {
        // A single layer lowers at an odd shape too (moec layer / moec test use this).
        const layer = lowerMoeBlock(result.spec!, { batch: 8, seq: 5 });
        expect(layer.tensors.get('x')!.shape).toEqual([40, result.spec!.width]);
        expect(layer.tensors.get(layer.output)!.shape).toEqual([40, result.spec!.width]);
      }
    });
  }
});
