/**
 * A new combination of routing-core options gets correct kernels with no new
 * code: a spread of `route core { ... }` points no preset names — sigmoid,
 * sqrtsoftplus or softmax scores, each selection, raw or renormalized weights, capacity or
 * dropless, both unmix rules, both group kinds, several slots, learned
 * temperature, every loss, gated and plain experts, adapter experts — each
 * proved kernel by kernel against the reference on the GPU.
 */
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { checkScenario } from '../../runtime/kernel_check.ts';
import { scenariosFor } from '../../runtime/test_scenarios.ts';
import { COMBOS, comboSpecText } from './core_combos.ts';

describe('routing-core combinations no preset names', () => {
  for (const c of COMBOS) {
    it(c.name, async () => {
      const text = comboSpecText(c);
      const r = checkSpec(text, `${c.name}.moe`);
      expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
      const gpu = await sharedGpu();
      // The two layer scenarios (odd shape, skewed routing): the training shape adds nothing here.
      const scenarios = scenariosFor(r.spec!, 7).filter((s) => s.name.startsWith('layer') && !s.name.includes(`${r.spec!.train.batch}x${r.spec!.context}`));
      expect(scenarios.length).toBe(2);
      for (const s of scenarios) {
        const rows = await checkScenario(gpu, s, `${c.name}.moe`);
        expect(rows.filter((x) => !x.ok).map((x) => `${x.scenario} ${x.op}/${x.kernels} ${x.tensor} rel ${x.maxRel.toExponential(2)}`)).toEqual([]);
      }
    });
  }
});
