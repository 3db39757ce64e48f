/**
 * Tokens per second of a full training step (forward, backward, optimizer)
 * of a shipped spec, through its generated harness.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpec } from '../compiler/compile.ts';
import type { Target } from '../codegen/wgsl/kernel.ts';
import { writeCompiledModel } from '../codegen/harness/compile_output.ts';
import { trainPlan } from '../codegen/train_plan.ts';
import { SyntheticCorpus } from '../runtime/data/synthetic.ts';
import type { Gpu } from '../runtime/gpu.ts';
import { ModelRuntime } from '../runtime/model_runtime.ts';
import { importCompiledModel } from '../runtime/trainer.ts';
import { time, type Timing } from './timing.ts';

export async function timeTrainStep(gpu: Gpu, specPath: string, target: Target, runs = 3): Promise<{ step: Timing; tokensPerStep: number }> {
  const { spec } = checkSpec(readFileSync(specPath, 'utf8'), specPath);
  if (!spec) throw new Error(`${specPath} does not check`);
  const dir = mkdtempSync(join(tmpdir(), 'moec-bench-'));
  try {
    writeCompiledModel(trainPlan(spec, target), dir);
    const cls = await importCompiledModel(dir);
    const rt = await ModelRuntime.open(dir, gpu);
    const model = new cls(rt);
    await model.allocate();
    await rt.initialize(1);
    const data = new SyntheticCorpus(1);
    let step = 0;
    const timing = await time(async () => {
      step++;
      const micro = Array.from({ length: cls.accumulate }, (_, m) => data.batch('train', step * cls.accumulate + m, cls.batch, cls.context));
      await model.trainStep(micro, { lr: 1e-3, step });
      await rt.read(['loss.cross_entropy']);
    }, runs);
    rt.executor.destroy();
    return { step: timing, tokensPerStep: cls.batch * cls.context * cls.accumulate };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
