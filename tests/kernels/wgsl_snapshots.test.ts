/**
 * Golden snapshots of every shipped spec's generated WGSL (for the default
 * WebGPU limits, so they do not depend on this machine's adapter): any
 * codegen change shows up as a reviewable diff. Index arithmetic is folded:
 * no `+ 0u`, `* 1u`, `/ 1u`, `% 1u`, `(0u) / 4u` or one-iteration loop
 * reaches a kernel, in the test or the training kernels.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSpec } from '../../compiler/compile.ts';
import { generateGraph } from '../../codegen/wgsl/generate.ts';
import { DEFAULT_TARGET } from '../../codegen/wgsl/kernel.ts';
import { dumpKernels } from '../../codegen/wgsl/kernel_dump.ts';
import { trainPlan } from '../../codegen/train_plan.ts';
import { harnessKernels } from '../../codegen/train_plan.ts';

/** Unfolded constants a reader should never have to work through. */
const UNFOLDED = /\+ 0u\b|[\w\])] \* 1u\b|\/ 1u\b|% 1u\b|\(0u\)|\b0u \* |< 1u;/;

const specs = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();

describe('generated WGSL', () => {
  for (const file of specs) {
    it(`${file} matches its golden kernels`, async () => {
      const path = `specs/${file}`;
      const { graph } = compileSpec(readFileSync(path, 'utf8'), path);
      const plan = generateGraph(graph!, { specPath: path, target: DEFAULT_TARGET });
      for (const k of [...plan.ops, ...plan.stateUpdates].flatMap((o) => [...o.forward, ...o.backward])) {
        expect(k.bindings.length, `${k.id} binds more storage buffers than WebGPU guarantees`).toBeLessThanOrEqual(DEFAULT_TARGET.maxStorageBuffersPerShaderStage);
        expect(k.source).toMatch(/^\/\/ moec kernel /);
      }
      await expect(dumpKernels(plan)).toMatchFileSnapshot(`../__snapshots__/wgsl/${file.replace('.moe', '.wgsl')}`);
    });

    it(`${file}: test and training kernels have their index arithmetic folded`, () => {
      const path = `specs/${file}`;
      const { graph, spec } = compileSpec(readFileSync(path, 'utf8'), path);
      const plan = generateGraph(graph!, { specPath: path, target: DEFAULT_TARGET });
      const kernels = [...[...plan.ops, ...plan.stateUpdates].flatMap((o) => [...o.forward, ...o.backward]), ...harnessKernels(trainPlan(spec!, DEFAULT_TARGET))];
      const unfolded = kernels.flatMap((k) => k.source.split('\n').filter((l) => UNFOLDED.test(l)).map((l) => `${k.id}: ${l.trim()}`));
      expect(unfolded).toEqual([]);
    });
  }
});
