/**
 * Router jitter (training only): the training kernels multiply the router's
 * input by the seeded noise of runtime/jitter.ts, and evaluation kernels
 * (training flag 0) do not; the backward kernels use the same noise.
 */
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';
import { generateGraph } from '../../codegen/wgsl/generate.ts';
import { STATE, STATE_BUFFER } from '../../codegen/wgsl/train_state.ts';
import { Executor } from '../../runtime/executor.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { jitterNoise } from '../../runtime/jitter.ts';
import { referenceOpBackward, referenceOpForward } from '../../codegen/reference/interpreter.ts';
import { randomValues } from '../../runtime/test_scenarios.ts';

const SPEC = `model j { width 16 heads 2 depth 1 context 8
  ffn moe { experts 4 { hidden 8 } route token_choice { top_k 1 jitter 0.1 } } }
train { batch 2 seed 42 }`;

describe('router jitter', () => {
  it('training kernels use the host-computable noise; evaluation uses none', async () => {
    const { spec } = checkSpec(SPEC, 'j.moe');
    const graph = lowerMoeBlock(spec!, { batch: 2, seq: 5 });
    const router = graph.ops.find((o) => o.kind === 'router')!;
    const plan = generateGraph(graph, { specPath: 'j.moe', training: true, seed: 42 });
    const kernels = plan.ops.find((k) => k.op === router)!;
    const gpu = await sharedGpu();
    const ex = new Executor(gpu, 'j.moe');
    try {
      await ex.allocate([...plan.buffers, { name: STATE_BUFFER, elements: STATE.size, dtype: 'f32', kind: 'saved' }]);
      const values = randomValues(graph, 3, 256);
      const x = values.get('x') as Float32Array;
      ex.write('x', x);
      ex.write('router.weight', values.get('router.weight')!);
      const logitsWith = async (training: number) => {
        const state = new Float32Array(STATE.size);
        state[STATE.step] = 3;
        state[STATE.training] = training;
        ex.write(STATE_BUFFER, state);
        await ex.run(kernels.forward);
        return (await ex.read('logits')) as Float32Array;
      };
      const d = 16;
      const expected = (noisy: boolean) => {
        const xs = Float64Array.from(x, (v, i) => v * (noisy ? jitterNoise(42, 3, Math.floor(i / d), i % d, d, 0.1) : 1));
        const local = new Map<string, Float64Array | Int32Array>([['x', xs], ['router.weight', Float64Array.from(values.get('router.weight')!)]]);
        referenceOpForward({ ...router, attrs: { ...router.attrs, jitter: 0 } }, graph, local);
        return local.get('logits') as Float64Array;
      };
      const trainLogits = await logitsWith(1);
      const evalLogits = await logitsWith(0);
      const close = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).every((v, i) => Math.abs(v - b[i]!) < 1e-5);
      expect(close(trainLogits, expected(true))).toBe(true);
      expect(close(evalLogits, expected(false))).toBe(true);
      expect(close(trainLogits, evalLogits)).toBe(false); // the noise is real
      // Backward in a training step: dW sees the jittered x, and dx is scaled by the same noise.
      const state = new Float32Array(STATE.size);
      state[STATE.step] = 3;
      state[STATE.training] = 1;
      ex.write(STATE_BUFFER, state);
      await ex.run(kernels.forward);
      const dProbs = Float32Array.from({ length: 10 * 4 }, (_, i) => Math.sin(i + 1));
      ex.zero(['grad/x', 'grad/router.weight']);
      ex.write('grad/probs', dProbs);
      ex.write('grad/logits', new Float32Array(40));
      await ex.run(kernels.backward);
      const noise = Float64Array.from(x, (_, i) => jitterNoise(42, 3, Math.floor(i / d), i % d, d, 0.1));
      const local = new Map<string, Float64Array | Int32Array>([['x', Float64Array.from(x, (v, i) => v * noise[i]!)], ['router.weight', Float64Array.from(values.get('router.weight')!)]]);
      const plain = { ...router, attrs: { ...router.attrs, jitter: 0 } };
      referenceOpForward(plain, graph, local);
      const grads = new Map<string, Float64Array>([['probs', Float64Array.from(dProbs)], ['logits', new Float64Array(40)]]);
      referenceOpBackward(plain, graph, local, grads);
      const dW = (await ex.read('grad/router.weight')) as Float32Array;
      const dX = (await ex.read('grad/x')) as Float32Array;
      expect(close(dW, grads.get('router.weight')!)).toBe(true);
      expect(close(dX, Float64Array.from(grads.get('x')!, (g, i) => g * noise[i]!))).toBe(true);
      for (let i = 0; i < 100; i++) {
        const n = jitterNoise(42, 3, i, 0, d, 0.1);
        expect(n).toBeGreaterThanOrEqual(0.9);
        expect(n).toBeLessThanOrEqual(1.1);
      }
    } finally {
      ex.destroy();
    }
  });
});
