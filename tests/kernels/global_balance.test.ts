/**
 * Global-batch balance (training only): in a training step the kernel adds
 * each micro-batch's expert counts to running sums, so the loss of the 2nd
 * micro-batch uses the counts of both; a new step starts the sums afresh;
 * evaluation (training flag 0) uses the current micro-batch only, which is
 * also what the Float64 reference (one micro-batch) computes. Expected values
 * are computed here from the kernels' own probs and counts, with the formula
 * of docs/ROUTING.md.
 */
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';
import { generateGraph } from '../../codegen/wgsl/generate.ts';
import { STATE, STATE_BUFFER } from '../../codegen/wgsl/train_state.ts';
import { Executor, type HostArray } from '../../runtime/executor.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { randomValues } from '../../runtime/test_scenarios.ts';

const ALPHA = 0.5;
const SPEC = `model g { width 8 heads 2 depth 1 context 4
  ffn moe { experts 4 { hidden 8 } route token_choice { top_k 2 capacity none global_balance ${ALPHA} } } }
train { batch 2 accumulate 2 }`;

describe('global_balance', () => {
  it('sums expert counts over the micro-batches of a training step, and starts afresh each step', async () => {
    const { spec } = checkSpec(SPEC, 'g.moe');
    const graph = lowerMoeBlock(spec!, { batch: 2, seq: 4 });
    const N = 8;
    const E = 4;
    const k = 2;
    const plan = generateGraph(graph, { specPath: 'g.moe', training: true });
    const forward = plan.ops.flatMap((o) => o.forward);
    const gpu = await sharedGpu();
    const ex = new Executor(gpu, 'g.moe');
    try {
      await ex.allocate([...plan.buffers, { name: STATE_BUFFER, elements: STATE.size, dtype: 'f32', kind: 'saved' }]);
      await ex.prepare(forward);
      const a = randomValues(graph, 1, 256);
      const b = randomValues(graph, 2, 256);
      for (const [name, v] of a) if (name !== 'x') ex.write(name, v);
      /** One micro-batch's forward: its loss, counts and probs. */
      const micro = async (values: Map<string, HostArray>, step: number, training: number) => {
        const state = new Float32Array(STATE.size);
        state[STATE.step] = step;
        state[STATE.training] = training;
        ex.write(STATE_BUFFER, state);
        ex.write('x', values.get('x')!);
        await ex.run(forward);
        return {
          loss: ((await ex.read('loss.global_balance')) as Float32Array)[0]!,
          demand: Array.from((await ex.read('demand')) as Int32Array),
          probs: (await ex.read('probs')) as Float32Array,
        };
      };
      /** α·E·Σ_e f_e·P_e with f_e = counts_e / (tokens·k) and P_e this micro-batch's mean prob. */
      const expected = (counts: number[], tokens: number, probs: Float32Array) => {
        let sum = 0;
        for (let e = 0; e < E; e++) {
          let P = 0;
          for (let t = 0; t < N; t++) P += probs[t * E + e]!;
          sum += (counts[e]! / (tokens * k)) * (P / N);
        }
        return ALPHA * E * sum;
      };
      const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * Math.abs(want));

      // Step 1: micro-batch A, then B; B's loss counts A's choices too.
      const a1 = await micro(a, 1, 1);
      close(a1.loss, expected(a1.demand, N, a1.probs));
      const b1 = await micro(b, 1, 1);
      const both = a1.demand.map((c, e) => c + b1.demand[e]!);
      expect(both).not.toEqual(b1.demand.map((c) => 2 * c)); // the two micro-batches route differently
      close(b1.loss, expected(both, 2 * N, b1.probs));
      // Evaluation in between (training flag 0): this micro-batch only, and the running sums are untouched.
      const bEval = await micro(b, 1, 0);
      close(bEval.loss, expected(bEval.demand, N, bEval.probs));
      // Step 2 starts afresh: B alone.
      const b2 = await micro(b, 2, 1);
      close(b2.loss, expected(b2.demand, N, b2.probs));
    } finally {
      ex.destroy();
    }
  });
});
