/**
 * Every shipped spec passes `moec test`: each generated kernel, forward and
 * backward, matches the Float64 reference on the real WebGPU adapter at an
 * odd shape, a skewed routing (empty experts, capacity overflow), the
 * training shape, and in the whole model. Fails (never skips) without an adapter.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { checkScenario } from '../../runtime/kernel_check.ts';
import { scenariosFor } from '../../runtime/test_scenarios.ts';
import { checkOptimizer } from '../../runtime/optimizer_check.ts';

const specs = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();

describe('moec test on every shipped spec', () => {
  for (const file of specs) {
    it(file, async () => {
      const path = `specs/${file}`;
      const { spec } = checkSpec(readFileSync(path, 'utf8'), path);
      const gpu = await sharedGpu();
      const scenarios = scenariosFor(spec!, 1);
      expect(scenarios.length).toBeGreaterThanOrEqual(spec!.ffn.kind === 'moe' ? 4 : 1);
      for (const scenario of scenarios) {
        const rows = await checkScenario(gpu, scenario, path);
        expect(rows.length).toBeGreaterThan(0);
        const failed = rows.filter((r) => !r.ok).map((r) => `${r.scenario} ${r.op}/${r.kernels} ${r.pass} ${r.tensor}: rel ${r.maxRel.toExponential(2)} (abs ${r.maxAbs.toExponential(2)}${r.mismatches !== undefined ? `, ${r.mismatches} differ` : ''})`);
        expect(failed).toEqual([]);
      }
      // The optimizer kernels of the spec's own optimizer settings.
      const opt = await checkOptimizer(gpu, spec!, 1);
      expect(opt.length).toBeGreaterThan(3);
      expect(opt.filter((r) => !r.ok).map((r) => `${r.tensor}: rel ${r.maxRel.toExponential(2)}`)).toEqual([]);
    });
  }
});
