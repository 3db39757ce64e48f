/**
 * The routing algebra on the GPU: every shipped routing example
 * (specs/routing/) and 32 seeded random compositions of the token-choice
 * primitives (tests/kernels/route_grammar.ts) check cleanly and have every
 * kernel, forward and backward, proved against the Float64 reference
 * (runtime/kernel_check.ts tolerances), on the layer at an odd shape, with
 * the router skewed to one expert (empty experts and groups, drops), and,
 * with null experts, skewed to a null expert. The whole-model and
 * training-shape scenarios of `moec test` add nothing about routing and are
 * left to the shipped-spec tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { moeDefinitions } from '../../compiler/spec.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { checkScenario } from '../../runtime/kernel_check.ts';
import { scenariosFor } from '../../runtime/test_scenarios.ts';
import { compositions } from './route_grammar.ts';

async function prove(text: string, path: string): Promise<void> {
  const r = checkSpec(text, path);
  expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`)).toEqual([]);
  const spec = r.spec!;
  const scenarios = scenariosFor(spec, 11).filter((s) => s.name.startsWith('layer') && !s.name.includes(`${spec.train.batch}x${spec.context}`));
  // Per distinct MoE layer: the odd shape and the skewed router, and a null-expert skew where there are null experts.
  expect(scenarios.length).toBe(moeDefinitions(spec).reduce((n, { moe }) => n + (moe.routing.nullExperts > 0 ? 3 : 2), 0));
  const gpu = await sharedGpu();
  for (const s of scenarios) {
    const rows = await checkScenario(gpu, s, path);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((x) => !x.ok).map((x) => `${x.scenario} ${x.op}/${x.kernels} ${x.tensor} rel ${x.maxRel.toExponential(2)}`)).toEqual([]);
  }
}

describe('shipped routing examples (specs/routing/)', () => {
  const files = readdirSync('specs/routing').filter((f) => f.endsWith('.moe')).sort();
  it('ships at least ten', () => expect(files.length).toBeGreaterThanOrEqual(10));
  for (const f of files) it(f, () => prove(readFileSync(`specs/routing/${f}`, 'utf8'), `specs/routing/${f}`));
});

describe('random compositions of routing primitives', () => {
  for (const c of compositions(20261207, 32)) it(c.name, () => prove(c.text, `composition.moe`));
});
