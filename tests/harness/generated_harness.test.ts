/**
 * The generated training harness (model.ts) of every shipped spec is a
 * golden snapshot and type-checks under strict TypeScript, importing only
 * the runtime library.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { writeCompiledModel } from '../../codegen/harness/compile_output.ts';
import { generateHarness } from '../../codegen/harness/harness.ts';
import { trainPlan } from '../../codegen/train_plan.ts';
import { DEFAULT_TARGET } from '../../codegen/wgsl/kernel.ts';
import { typeCheck } from './type_check.ts';

const specs = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();

describe('generated harness', () => {
  for (const file of specs) {
    it(`${file}: model.ts matches its golden snapshot`, async () => {
      const path = `specs/${file}`;
      const { spec } = checkSpec(readFileSync(path, 'utf8'), path);
      const text = generateHarness(trainPlan(spec!, DEFAULT_TARGET));
      expect(text).toMatch(/^import type \{ ModelRuntime \} from "moec\/runtime";/);
      expect(text.match(/^import /gm)).toHaveLength(1);
      await expect(text).toMatchFileSnapshot(`../__snapshots__/harness/${file.replace('.moe', '.model.ts.txt')}`);
    });
  }

  it('every shipped spec\'s compiled model type-checks under strict TypeScript', () => {
    const root = join(tmpdir(), `moec-harness-${process.pid}`);
    try {
      const files = specs.map((file) => {
        const path = `specs/${file}`;
        const { spec } = checkSpec(readFileSync(path, 'utf8'), path);
        const dir = join(root, file.replace('.moe', ''));
        mkdirSync(dir, { recursive: true });
        return writeCompiledModel(trainPlan(spec!, DEFAULT_TARGET), dir).model;
      });
      expect(typeCheck(files)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
