/**
 * Golden snapshots of every shipped spec's generated WGSL (for the default
 * WebGPU limits, so they do not depend on this machine's adapter): any
 * codegen change shows up as a reviewable diff.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSpec } from '../../compiler/compile.ts';
import { generateGraph } from '../../codegen/wgsl/generate.ts';
import { DEFAULT_TARGET } from '../../codegen/wgsl/kernel.ts';
import { dumpKernels } from '../../codegen/wgsl/kernel_dump.ts';

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
  }
});
