/**
 * Hand-worked cases, one per router kind, at tiny sizes (2–4 tokens, width 2,
 * hidden 2, 1–3 experts) with weights chosen so the arithmetic is easy. Each
 * expected number was computed independently of moec, by hand or with
 * python3 + numpy; the comment next to it says how.
 *
 * Every case runs on two backends (./backends.ts):
 *   reference — the Float64 interpreter: |actual − expected| ≤ 1e-12;
 *   webgpu    — the generated WGSL kernels through GraphRunner, in float32:
 *               |actual − expected| ≤ 1e-5·|expected| + 1e-6.
 * Integer outputs (token_expert, token_slot, slot_token, expert_offsets,
 * load, demand) must match exactly on both. The webgpu cases fail (they are
 * not skipped) when this machine has no WebGPU adapter.
 *
 * Shared notation in the numpy comments:
 *   sm(z, axis=-1) = softmax: e = np.exp(z - z.max(axis, keepdims=True)); e / e.sum(axis, keepdims=True)
 *   relu = lambda v: np.maximum(v, 0);  sig = lambda v: 1 / (1 + np.exp(-v))
 *   FFN0(v) = 2·relu(v)        (up_0 = I, down_0 = 2I)
 *   FFN1(v) = relu(swap(v))    (up_1 = [[0,1],[1,0]], down_1 = I), numpy: relu(v[::-1])
 * The router weight is the identity unless said otherwise, so logits = x.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';
import { BACKEND_NAMES, createBackend, type Given, type Tensors } from './backends.ts';

const IDENTITY = [1, 0, 0, 1];
/** up [2, 2, 2] and down [2, 2, 2] of FFN0 = 2·relu(v) and FFN1 = relu(swap v). */
const TWO_EXPERTS = { 'experts.up.weight': [1, 0, 0, 1, 0, 1, 1, 0], 'experts.down.weight': [2, 0, 0, 2, 1, 0, 0, 1] };

function layer(model: string, batch: number, seq: number): Graph {
  const r = checkSpec(model, 'hand.moe');
  if (!r.spec) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return lowerMoeBlock(r.spec, { batch, seq });
}

function ints(v: ArrayLike<number> | undefined): number[] {
  return Array.from(v ?? []);
}

describe.each(BACKEND_NAMES)('%s backend', (backendName) => {
  const backend = createBackend(backendName);
  afterAll(() => backend.dispose());

  const forward = (graph: Graph, given: Given): Promise<Tensors> => backend.forward(graph, given);

  function expectClose(actual: ArrayLike<number> | undefined, expected: readonly number[]): void {
    expect(actual).toBeDefined();
    expect(actual!.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const err = Math.abs(actual![i]! - expected[i]!);
      expect(err, `entry ${i}: ${actual![i]} vs ${expected[i]}`).toBeLessThanOrEqual(backend.tolerance(expected[i]!));
    }
  }

  /**
   * The rows of expert_out that hold an expert's output: all of them for
   * mixing routers, the first expert_offsets[E] for the others (the rest are
   * unspecified on the GPU).
   */
  function usedExpertRows(graph: Graph, v: Tensors): number[] {
    const out = v.get('expert_out');
    const width = graph.tensors.get('expert_out')!.shape[1]!;
    const offsets = v.get('expert_offsets');
    const rows = offsets ? offsets[offsets.length - 1]! : out!.length / width;
    return Array.from(out!).slice(0, rows * width);
  }

  describe('token choice', () => {
    it('top-1 with capacity 1: 2 experts, 3 tokens, the third token dropped', async () => {
      // C = ceil(0.5 · 1 · 3 / 2) = 1; rows = min(N·k, E·C) = 2.
      const g = layer('model a { width 2 heads 1 ffn moe { experts 2 { hidden 2 activation relu } route token_choice { top_k 1 capacity_factor 0.5 } } }', 1, 3);
      const v = await forward(g, { x: [1, 0, 0, 1, 2, 0], 'router.weight': IDENTITY, ...TWO_EXPERTS });
      // Tokens pick e0, e1, e0 (largest logit). e0 already holds token 0 when token 2 comes: dropped.
      expect(ints(v.get('token_expert'))).toEqual([0, 1, 0]);
      expect(ints(v.get('demand'))).toEqual([2, 1]); // every choice, before capacity
      expect(ints(v.get('load'))).toEqual([1, 1]);
      expect(ints(v.get('expert_offsets'))).toEqual([0, 1, 2]);
      expect(ints(v.get('token_slot'))).toEqual([0, 1, -1]);
      expect(ints(v.get('slot_token'))).toEqual([0, 1]);
      expectClose(v.get('token_gate'), [
        0.7310585786300049, // numpy: sm([1, 0])[0] = e/(e+1)
        0.7310585786300049, // numpy: sm([0, 1])[1]
        0.8807970779778823, // numpy: sm([2, 0])[0] = e²/(e²+1) (the dropped token keeps its gate; combine skips it)
      ]);
      expectClose(usedExpertRows(g, v), [2, 0, 1, 0]); // by hand: FFN0([1, 0]) = [2, 0]; FFN1([0, 1]) = [1, 0]
      expectClose(v.get('routed'), [
        1.4621171572600098, 0, // numpy: sm([1, 0])[0] * FFN0([1, 0]) = 2e/(e+1) · [1, 0]
        0.7310585786300049, 0, // numpy: sm([0, 1])[1] * FFN1([0, 1]) = e/(e+1) · [1, 0]
        0, 0, // by hand: dropped, contributes exactly 0
      ]);
      // The dropped token gets no gradient at all: its gate's gradient is 0, so none reaches the router either.
      const grads = await backend.backward(g, v, { routed: [1, 1, 1, 1, 1, 1] });
      expectClose(Array.from(grads.get('x')!).slice(4, 6), [0, 0]); // by hand
    });

    it('top-2 renormalized: 3 experts, 2 tokens, dropless', async () => {
      // router rows [1,0], [0,1], [.5,.5]; every expert has up = I, down = c_e·I with c = 1, 2, 3.
      const g = layer('model b { width 2 heads 1 ffn moe { experts 3 { hidden 2 activation relu } route token_choice { top_k 2 renormalize true capacity none } } }', 1, 2);
      const v = await forward(g, {
        x: [1, 0, 0, 1],
        'router.weight': [1, 0, 0, 1, 0.5, 0.5],
        'experts.up.weight': [...IDENTITY, ...IDENTITY, ...IDENTITY],
        'experts.down.weight': [1, 0, 0, 1, 2, 0, 0, 2, 3, 0, 0, 3],
      });
      // logits t0 = [1, 0, .5] → experts 0, 2; t1 = [0, 1, .5] → experts 1, 2.
      expect(ints(v.get('token_expert'))).toEqual([0, 2, 1, 2]);
      // Priority: first choices (t0→e0, t1→e1), then second choices (t0→e2, t1→e2).
      expect(ints(v.get('expert_offsets'))).toEqual([0, 1, 2, 4]);
      expect(ints(v.get('token_slot'))).toEqual([0, 2, 1, 3]);
      expect(ints(v.get('slot_token'))).toEqual([0, 1, 0, 1]);
      expectClose(v.get('token_gate'), [
        0.6224593312018546, // numpy: p = sm([1, 0, .5]); p[0] / (p[0] + p[2]) = σ(0.5)
        0.37754066879814546, // numpy: p[2] / (p[0] + p[2]) = σ(−0.5)
        0.6224593312018546, // numpy: p = sm([0, 1, .5]); p[1] / (p[1] + p[2])
        0.37754066879814546, // numpy: p[2] / (p[1] + p[2])
      ]);
      expectClose(v.get('routed'), [
        1.755081337596291, 0, // numpy: g0[0]*1*relu([1,0]) + g0[1]*3*relu([1,0])
        0, 2.3775406687981455, // numpy: g1[0]*2*relu([0,1]) + g1[1]*3*relu([0,1])
      ]);
    });

    it('sigmoid scores: the loss-free bias changes the selection but not the gate', async () => {
      const g = layer('model c { width 2 heads 1 ffn moe { experts 2 { hidden 2 activation relu } route token_choice { top_k 1 score sigmoid capacity none bias_balance 0.001 } } }', 1, 2);
      const given = { x: [1, 0, 0, 1], 'router.weight': IDENTITY, ...TWO_EXPERTS };
      // Without bias, token 0 takes expert 0 (σ(1) > σ(0)).
      const plain = await forward(g, { ...given, 'router.bias': [0, 0] });
      expect(ints(plain.get('token_expert'))).toEqual([0, 1]);
      expectClose(plain.get('routed'), [1.4621171572600098, 0, 0.7310585786300049, 0]); // numpy: sig(1)*FFN0([1,0]); sig(1)*FFN1([0,1])

      // Bias [0, 0.3]: token 0 scores σ(1) = 0.731 < σ(0) + 0.3 = 0.8, so it takes expert 1, gated by σ(0) = 0.5.
      const v = await forward(g, { ...given, 'router.bias': [0, 0.3] });
      expect(ints(v.get('token_expert'))).toEqual([1, 1]);
      expectClose(v.get('token_gate'), [
        0.5, // by hand: σ(0), the unbiased score (not 0.8)
        0.7310585786300049, // numpy: sig(1)
      ]);
      expectClose(v.get('routed'), [
        0, 0.5, // numpy: sig(0)*FFN1([1, 0]) = 0.5·[0, 1]
        0.7310585786300049, 0, // numpy: sig(1)*FFN1([0, 1])
      ]);
      // After the step: demand = [0, 2], mean 1 → bias_0 += γ·sign(1 − 0), bias_1 += γ·sign(1 − 2) (by hand).
      expect(ints(v.get('demand'))).toEqual([0, 2]);
      const updated = await backend.stateUpdates(g, v);
      expectClose(updated.get('router.bias'), [0.001, 0.299]);
    });
  });

  describe('expert choice', () => {
    it('each expert takes its 2 best tokens; ties go to the lower token index', async () => {
      // c = ceil(1 · 4 / 2) = 2. x rows [1,0], [.5,.5], [1,0], [1,0]: tokens 0, 2, 3 tie exactly.
      const g = layer('model d { width 2 heads 1 ffn moe { experts 2 { hidden 2 activation relu } route expert_choice { capacity_factor 1 } } }', 1, 4);
      const v = await forward(g, { x: [1, 0, 0.5, 0.5, 1, 0, 1, 0], 'router.weight': IDENTITY, ...TWO_EXPERTS });
      // probs[:, 0] = [.731, .5, .731, .731] → tokens 0, 2 (3 ties with them but has the higher index);
      // probs[:, 1] = [.269, .5, .269, .269] → token 1, then token 0 (lowest of the tied 0, 2, 3).
      expect(ints(v.get('slot_token'))).toEqual([0, 2, 1, 0]);
      expect(ints(v.get('token_expert'))).toEqual([0, 1, -1, 1, 0, -1, -1, -1]);
      expect(ints(v.get('token_slot'))).toEqual([0, 3, -1, 2, 1, -1, -1, -1]);
      expect(ints(v.get('expert_offsets'))).toEqual([0, 2, 4]);
      expect(ints(v.get('load'))).toEqual([2, 2]);
      expectClose(v.get('token_gate'), [
        0.7310585786300049, 0.2689414213699951, // numpy: sm([1, 0])
        0, 0.5, // by hand: not taken by e0; sm([.5, .5])[1] = 0.5
        0.7310585786300049, 0, // numpy: sm([1, 0])[0]; not taken by e1
        0, 0, // token 3: taken by no expert
      ]);
      expectClose(v.get('routed'), [
        1.4621171572600098, 0.2689414213699951, // numpy: p[0,0]*FFN0([1,0]) + p[0,1]*FFN1([1,0]) = [2e/(e+1), 1/(e+1)]
        0.25, 0.25, // by hand: 0.5 · FFN1([.5, .5]) = 0.5 · [.5, .5]
        1.4621171572600098, 0, // numpy: p[2,0]*FFN0([1,0])
        0, 0, // by hand: no expert took token 3
      ]);
    });
  });

  describe('mixing routers', () => {
    it('mixture of tokens: groups of 2 tokens at one position across the batch', async () => {
      // batch 2, seq 2: t = 2b + s; group g = s holds tokens {s, 2 + s}. Rows: r = e·2 + g.
      const g = layer('model e { width 2 heads 1 ffn moe { experts 2 { hidden 2 activation relu } route mixture_of_tokens { group 2 } } } train { batch 2 }', 2, 2);
      const v = await forward(g, { x: [1, 0, 0, 1, 0, 1, 2, 0], 'router.weight': IDENTITY, ...TWO_EXPERTS });
      // numpy (x = [[1,0],[0,1],[0,1],[2,0]], z = x): D = zeros((4,2)); for grp in [[0,2],[1,3]]: D[grp] = sm(z[grp], axis=0)
      expectClose(v.get('dispatch'), [
        0.7310585786300049, 0.2689414213699951, // group 0: sm([1, 0]) over tokens 0, 2 for slot 0; sm([0, 1]) for slot 1
        0.11920292202211755, 0.7310585786300049, // group 1: sm([0, 2]) over tokens 1, 3 for slot 0; sm([1, 0]) for slot 1
        0.2689414213699951, 0.7310585786300049,
        0.8807970779778823, 0.2689414213699951,
      ]);
      expectClose(v.get('combine_weights'), Array.from(v.get('dispatch')!)); // unmix dispatch: the same weights
      // numpy: slots_in[e*2 + gi] = D[grp, e] @ x[grp]
      expectClose(v.get('slots_in'), [
        0.7310585786300049, 0.2689414213699951, // e0, g0
        1.7615941559557646, 0.11920292202211755, // e0, g1
        0.2689414213699951, 0.7310585786300049, // e1, g0
        0.5378828427399902, 0.7310585786300049, // e1, g1
      ]);
      // numpy: o[e*2 + gi] = FFN_e(slots_in[e*2 + gi])
      expectClose(usedExpertRows(g, v), [
        1.4621171572600098, 0.5378828427399902, // FFN0(slots_in[0]) = 2·slots_in[0]
        3.5231883119115293, 0.2384058440442351, // FFN0(slots_in[1])
        0.7310585786300049, 0.2689414213699951, // FFN1(slots_in[2]) = swap(slots_in[2])
        0.7310585786300049, 0.5378828427399902, // FFN1(slots_in[3])
      ]);
      // numpy: y[u] = D[u, 0] * o[0*2 + g(u)] + D[u, 1] * o[1*2 + g(u)], g(u) = u % 2
      expectClose(v.get('routed'), [
        1.2655052240185278, 0.46555335461147695, // D[0,0]*o[0] + D[0,1]*o[2]
        0.9544209870025491, 0.4216425397201858, // D[1,0]*o[1] + D[1,1]*o[3]
        0.9276705118714867, 0.34127090949850836, // D[2,0]*o[0] + D[2,1]*o[2]
        3.2998259035389848, 0.3546461470640395, // D[3,0]*o[1] + D[3,1]*o[3]
      ]);
    });

    it('soft MoE: one expert with two slots, one group per sequence', async () => {
      // batch 2, seq 2: sequences [t0, t1], [t2, t3]; rows r = g·2 + j.
      const g = layer('model f { width 2 heads 1 ffn moe { experts 1 { hidden 2 activation relu } route soft { slots 2 } } }', 2, 2);
      const v = await forward(g, { x: [1, 0, 0, 1, 2, 0, 0, 0], 'router.weight': IDENTITY, 'experts.up.weight': IDENTITY, 'experts.down.weight': [2, 0, 0, 2] });
      // numpy per sequence b (X = x[2b:2b+2], L = X): D = sm(L, axis=0); C = sm(L, axis=1); Xs = D.T @ X; Y = C @ FFN0(Xs)
      expectClose(v.get('dispatch'), [
        0.7310585786300049, 0.2689414213699951, 0.2689414213699951, 0.7310585786300049, // sequence 0
        0.8807970779778823, 0.5, 0.11920292202211755, 0.5, // sequence 1: sm([2, 0]) and sm([0, 0]) over tokens
      ]);
      expectClose(v.get('combine_weights'), [
        0.7310585786300049, 0.2689414213699951, 0.2689414213699951, 0.7310585786300049,
        0.8807970779778823, 0.11920292202211755, 0.5, 0.5, // sm([2, 0]) and sm([0, 0]) over slots
      ]);
      expectClose(v.get('slots_in'), [
        0.7310585786300049, 0.2689414213699951, 0.2689414213699951, 0.7310585786300049,
        1.7615941559557646, 0, 1, 0, // numpy: D.T @ X for sequence 1
      ]);
      expectClose(usedExpertRows(g, v), [
        1.4621171572600098, 0.5378828427399902, 0.5378828427399902, 1.4621171572600098, // numpy: FFN0(Xs) = 2·Xs, sequence 0
        3.5231883119115293, 0, 2, 0, // sequence 1
      ]);
      expectClose(v.get('routed'), [
        1.2135522670340726, 0.7864477329659274, // numpy: C[0] @ FFN0(Xs) for sequence 0
        0.7864477329659274, 1.2135522670340726, // C[1] @ FFN0(Xs)
        3.341619814341738, 0, // sequence 1: C[0] @ FFN0(Xs) = .881·[3.523, 0] + .119·[2, 0]
        2.7615941559557644, 0, // C[1] @ FFN0(Xs) = .5·[3.523, 0] + .5·[2, 0]
      ]);
    });

    it('soft merge with IA3 experts (MoV)', async () => {
      // Frozen base FFN up = down = I; scale vectors l_0 = [1, 2], l_1 = [3, 4].
      const g = layer('model h { width 2 heads 1 ffn moe { experts 2 ia3 { hidden 2 activation relu } route soft_merge { } } }', 1, 2);
      const v = await forward(g, { x: [1, 0, 0, 2], 'router.weight': IDENTITY, 'base.up.weight': IDENTITY, 'base.down.weight': IDENTITY, 'experts.ia3.scale': [1, 2, 3, 4] });
      expectClose(v.get('token_gate'), [0.7310585786300049, 0.2689414213699951, 0.11920292202211755, 0.8807970779778823]); // numpy: sm(x)
      expectClose(v.get('down_pre'), [
        1.5378828427399902, 0, // numpy: m = sm(x) @ scale; relu(x) * m → t0: [1, 0]·[1.5379, 2.5379]
        0, 7.523188311911529, // t1: [0, 2]·[2.7616, 3.7616]
      ]);
    });
  });

  describe('router losses', () => {
    // batch 2, seq 2, top-1, capacity 1 (token 3 dropped from e0: losses count choices before capacity).
    async function lossLayer(): Promise<{ g: Graph; v: Tensors }> {
      const g = layer(
        'model l { width 2 heads 1 ffn moe { experts 2 { hidden 2 activation relu } route token_choice { top_k 1 capacity_factor 0.5 balance_loss 0.1 z_loss 0.01 sequence_balance 0.1 } } }',
        2,
        2,
      );
      return { g, v: await forward(g, { x: [1, 0, 0, 1, 2, 0, 1, 0], 'router.weight': IDENTITY, ...TWO_EXPERTS }) };
    }

    it('balance, z and sequence balance losses', async () => {
      const { v } = await lossLayer();
      expect(ints(v.get('token_expert'))).toEqual([0, 1, 0, 0]);
      expect(ints(v.get('demand'))).toEqual([3, 1]);
      expect(ints(v.get('load'))).toEqual([1, 1]);
      // numpy (x as above, p = sm(x)): f = [3, 1] / (4 · 1); 0.1 * 2 * (f * p.mean(0)).sum()
      expectClose(v.get('loss.balance'), [0.11529639141519717]);
      // numpy: 0.01 * (np.log(np.exp(x).sum(1)) ** 2).mean()
      expectClose(v.get('loss.z'), [0.024244478859672115]);
      // numpy: c = [[1, 1], [2, 0]] (choices per sequence); P_b = p[2b:2b+2].mean(0);
      //        0.1 * np.mean([(2 / (1 * 2) * c[b] * P_b).sum() for b in (0, 1)])
      expectClose(v.get('loss.sequence_balance'), [0.13059278283039438]);
    });

    it('balance loss gradient: α·E·f_e / N per token', async () => {
      const { g, v } = await lossLayer();
      // Only loss.balance (gradient 1) contributes: routed has no upstream gradient, the other two losses get 0.
      const grads = await backend.backward(g, v, { 'loss.z': [0], 'loss.sequence_balance': [0] });
      // by hand: 0.1 · 2 · (3/4) / 4 = 0.0375 for e0, 0.1 · 2 · (1/4) / 4 = 0.0125 for e1.
      expectClose(grads.get('probs'), [0.0375, 0.0125, 0.0375, 0.0125, 0.0375, 0.0125, 0.0375, 0.0125]);
    });
  });
});
