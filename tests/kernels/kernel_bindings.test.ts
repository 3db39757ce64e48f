/**
 * Every generated kernel binds exactly the buffers it uses (KernelWriter
 * refuses a binding the kernel never reads: an auto layout would drop it and
 * invalidate the bind group). Checked without a GPU over every shipped spec
 * and every routing-core combination, for every tuning candidate tile and the
 * unfused baseline, test kernels and training kernels.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec, compileSpec } from '../../compiler/compile.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';
import { trainPlan } from '../../codegen/train_plan.ts';
import { generateGraph } from '../../codegen/wgsl/generate.ts';
import { DEFAULT_TARGET, type Target } from '../../codegen/wgsl/kernel.ts';
import { TILE_CANDIDATES } from '../../bench/tune.ts';
import { COMBOS, comboSpecText } from './core_combos.ts';

const TARGETS: [string, Target][] = [
  ['default', DEFAULT_TARGET],
  ['unfused', { ...DEFAULT_TARGET, fusion: false }],
  ...TILE_CANDIDATES.map((t): [string, Target] => [`tile ${t.join('x')}`, { ...DEFAULT_TARGET, gemmTiles: { forward: t, input_grad: t, weight_grad: t } }]),
];

const sources = [
  ...readdirSync('specs').filter((f) => f.endsWith('.moe')).sort().map((f) => [f, readFileSync(`specs/${f}`, 'utf8')] as const),
  ...COMBOS.map((c) => [`core: ${c.name}`, comboSpecText(c)] as const),
];

describe('kernels bind exactly what they use', () => {
  for (const [name, text] of sources) {
    it(name, () => {
      const { spec, graph } = compileSpec(text, `${name}.moe`);
      expect(spec, checkSpec(text, name).diagnostics.map((d) => d.message).join('; ')).toBeDefined();
      const layer = spec!.ffn.kind === 'moe' ? [lowerMoeBlock(spec!, { batch: spec!.train.batch, seq: 5 })] : [];
      for (const [, target] of TARGETS) {
        for (const g of [graph!, ...layer]) expect(() => generateGraph(g, { specPath: name, target })).not.toThrow();
        expect(() => trainPlan(spec!, target)).not.toThrow();
      }
    });
  }
});
