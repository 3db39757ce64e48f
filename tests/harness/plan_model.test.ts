/**
 * runtime/plan_model.ts runs a training plan without writing model.ts (the
 * browser playground trains with it). It must be the generated harness in
 * all but form: the same losses, gradient norms and weights, bit for bit,
 * over three AdamW steps with gradient accumulation and a loss-free
 * balancing bias (state updates), and for evaluation.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { writeCompiledModel } from '../../codegen/harness/compile_output.ts';
import { trainPlan } from '../../codegen/train_plan.ts';
import { SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { ModelRuntime } from '../../runtime/model_runtime.ts';
import { PlanModel } from '../../runtime/plan_model.ts';
import { importCompiledModel } from '../../runtime/trainer.ts';
import { targetFor } from '../../runtime/tuning.ts';

const TRAIN = 'train { data synthetic  batch 4  steps 3  accumulate 2  optimizer adamw { lr 3e-3 }  seed 5 }';

describe('PlanModel', () => {
  for (const name of ['switch', 'deepseek_v3_style']) {
    it(`${name}: three training steps and an evaluation give the generated harness's numbers bit for bit`, async () => {
      const path = `specs/${name}.moe`;
      const text = readFileSync(path, 'utf8').replace(/^train \{.*\}$/m, TRAIN).replace(/\bcontext \d+/, 'context 32');
      const spec = checkSpec(text, path).spec!;
      const gpu = await sharedGpu();
      const plan = trainPlan(spec, targetFor(gpu));
      const dir = mkdtempSync(join(tmpdir(), 'moec-plan-model-'));
      try {
        writeCompiledModel(plan, dir);
        const cls = await importCompiledModel(dir);
        const rt = await ModelRuntime.open(dir, gpu);
        const generated = new cls(rt);
        await generated.allocate();
        await rt.initialize(5);
        const planned = PlanModel.create(gpu, plan);
        await planned.allocate();
        await planned.rt.initialize(5);
        const initial = (await planned.rt.read(['embed.weight'])).get('embed.weight')!;
        const data = new SyntheticCorpus(5);
        const watch = ['loss.cross_entropy', 'train/state', 'embed.weight', ...plan.params.slice(-3).map((p) => p.name), ...[...plan.graph.tensors.values()].filter((t) => t.role === 'state').map((t) => t.name)];
        for (let step = 1; step <= 3; step++) {
          const micro = [0, 1].map((m) => data.batch('train', step * 2 + m, 4, 32));
          await generated.trainStep(micro, { lr: 3e-3, step });
          await planned.trainStep(micro, { lr: 3e-3, step });
          const a = await rt.read(watch);
          const b = await planned.rt.read(watch);
          for (const n of watch) expect(Buffer.compare(Buffer.from(a.get(n)!.buffer), Buffer.from(b.get(n)!.buffer)), `${n} after step ${step}`).toBe(0);
        }
        const v = data.batch('validation', 0, 4, 32);
        await generated.evaluate(v.tokens, v.targets);
        await planned.evaluate(v.tokens, v.targets);
        const [a, b] = [await rt.read(['logits']), await planned.rt.read(['logits'])];
        expect(Buffer.compare(Buffer.from(a.get('logits')!.buffer), Buffer.from(b.get('logits')!.buffer))).toBe(0);
        // Training really moved the weights (the comparison is not of untouched buffers).
        const trained = (await planned.rt.read(['embed.weight'])).get('embed.weight')!;
        expect(Buffer.compare(Buffer.from(initial.buffer), Buffer.from(trained.buffer))).not.toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
