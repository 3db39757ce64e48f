/**
 * Hand-worked cases of the routing primitives (docs/ROUTING.md, "Composing
 * token choice"): group-limited top-k (max and sum-of-top-2 group scores,
 * routed scaling), top-p, null experts (some and all tokens), sqrtsoftplus
 * scores with their gradient, softmax after top-k, and drops by position and
 * by probability with a per-sequence capacity. Tiny sizes and weights chosen
 * so the arithmetic is easy; every expected number was computed
 * independently of moec, by hand or with python3 + numpy, as the comment
 * beside it says (sig = 1/(1+exp(−v)), sm = softmax, sp = log1p(exp(v))).
 *
 * Both backends of ./backends.ts run every case: the Float64 reference
 * (|error| ≤ 1e-12) and the WGSL kernels on WebGPU (float32, |error| ≤
 * 1e-5·|expected| + 1e-6); integer routing tables must match exactly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';
import { BACKEND_NAMES, createBackend, type Given, type Tensors } from './backends.ts';

function layer(route: string, experts: string, width: number, batch: number, seq: number): Graph {
  const text = `model hand { width ${width} heads 1 ffn moe { ${experts} route token_choice { ${route} } } }`;
  const r = checkSpec(text, 'hand.moe');
  if (!r.spec) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return lowerMoeBlock(r.spec, { batch, seq });
}

const ints = (v: ArrayLike<number> | undefined): number[] => Array.from(v ?? []);
const identity = (n: number): number[] => Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
const repeat = (xs: number[], times: number): number[] => Array.from({ length: times }, () => xs).flat();

/** Width-2 experts: FFN0(v) = 2·relu(v), FFN1(v) = relu(swap v) (up [2, 2, 2], down [2, 2, 2]). */
const TWO_EXPERTS = { 'experts.up.weight': [1, 0, 0, 1, 0, 1, 1, 0], 'experts.down.weight': [2, 0, 0, 2, 1, 0, 0, 1] };

describe.each(BACKEND_NAMES)('%s backend', (backendName) => {
  const backend = createBackend(backendName);
  afterAll(() => backend.dispose());
  const forward = (graph: Graph, given: Given): Promise<Tensors> => backend.forward(graph, given);

  function expectClose(actual: ArrayLike<number> | undefined, expected: readonly number[]): void {
    expect(actual).toBeDefined();
    expect(actual!.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      expect(Math.abs(actual![i]! - expected[i]!), `entry ${i}: ${actual![i]} vs ${expected[i]}`).toBeLessThanOrEqual(backend.tolerance(expected[i]!));
    }
  }

  describe('group-limited top-k', () => {
    // Width 4, router = identity (logits = x), sigmoid scores; 4 experts in 2 groups {e0, e1}, {e2, e3}.
    // Every expert: up = rows [1,0,0,0], [0,1,0,0]; down = columns [1,0,0,0], [0,1,0,0]: FFN(v) = (relu v0, relu v1, 0, 0).
    const experts = {
      'experts.up.weight': repeat([1, 0, 0, 0, 0, 1, 0, 0], 4),
      'experts.down.weight': repeat([1, 0, 0, 1, 0, 0, 0, 0], 4),
      'router.weight': identity(4),
    };
    const x = [2, -1, 1.5, 1.4];

    it('group score max keeps the group of the best expert (DeepSeek-V2)', async () => {
      const g = layer('score sigmoid  top_k 2  groups 2  top_groups 1  group_score max  capacity none', 'experts 4 { hidden 2 activation relu }', 4, 1, 1);
      const v = await forward(g, { x, ...experts });
      // numpy: p = sig(x) = [.8808, .2689, .8176, .8022]; group maxima .8808 vs .8176: group 0 kept.
      expect(ints(v.get('token_expert'))).toEqual([0, 1]);
      expectClose(v.get('token_gate'), [0.8807970779778823, 0.2689414213699951]); // numpy: sig(2), sig(−1)
      expectClose(v.get('routed'), [2.299476998695755, 0, 0, 0]); // numpy: (sig(2) + sig(−1)) · relu(2)
    });

    it('group score sum_top2 keeps the stronger pair, gates renormalised and scaled (DeepSeek-V3)', async () => {
      const g = layer('score sigmoid  top_k 2  groups 2  top_groups 1  group_score sum_top2  renormalize true  routed_scale 2.5  capacity none', 'experts 4 { hidden 2 activation relu }', 4, 1, 1);
      const v = await forward(g, { x, ...experts });
      // numpy: group sums 1.1497 vs 1.6198: group 1 kept although e0 scores best.
      expect(ints(v.get('token_expert'))).toEqual([2, 3]);
      expectClose(v.get('token_gate'), [1.2618772250000203, 1.2381227749999795]); // numpy: 2.5 · p[2:] / p[2:].sum()
      expectClose(v.get('routed'), [5, 0, 0, 0]); // by hand: gates sum to 2.5, both experts give relu(2) = 2
    });
  });

  it('top-p stops once the picks reach p (at most top_k)', async () => {
    // Width 4, router = identity, softmax; top_k 3, top_p 0.7.
    const g = layer('top_k 3  top_p 0.7  capacity none', 'experts 4 { hidden 2 activation relu }', 4, 1, 3);
    const v = await forward(g, {
      x: [2, 1, 0, -1, 3, 0, 0, 0, 0, 0, 0, 0],
      'router.weight': identity(4),
      'experts.up.weight': repeat([1, 0, 0, 0, 0, 1, 0, 0], 4),
      'experts.down.weight': repeat([1, 0, 0, 1, 0, 0, 0, 0], 4),
    });
    // numpy cumsum(sm(x)): t0 .644, .881 → 2 picks; t1 .870 → 1 pick; t2 .25, .5, .75 → 3 picks (the most).
    expect(ints(v.get('token_expert'))).toEqual([0, 1, -1, 0, -1, -1, 0, 1, 2]);
    expectClose(v.get('token_gate'), [0.6439142598879724, 0.23688281808991013, 0, 0.8700485065614081, 0, 0, 0.25, 0.25, 0.25]); // numpy: sm(x)
    expect(ints(v.get('demand'))).toEqual([3, 2, 1, 0]);
  });

  describe('null experts', () => {
    it('a null pick counts in renormalisation and adds nothing', async () => {
      // 2 real experts + 1 null; router rows [1,0], [0,1], [1,1] (the null row last); top-2 renormalised.
      const g = layer('top_k 2  null_experts 1  renormalize true  capacity none', 'experts 2 { hidden 2 activation relu }', 2, 1, 3);
      const v = await forward(g, { x: [1, 0, 0, 2, 1, 1], 'router.weight': [1, 0, 0, 1, 1, 1], ...TWO_EXPERTS });
      // logits t0 [1, 0, 1]: e0 and the null tie, lower index first; t1 [0, 2, 2]: e1, null; t2 [1, 1, 2]: null, then e0 (tie with e1).
      expect(ints(v.get('token_expert'))).toEqual([0, 2, 1, 2, 2, 0]);
      expectClose(v.get('token_gate'), [0.5, 0.5, 0.5, 0.5, 0.7310585786300049, 0.2689414213699951]); // by hand (ties: 1/2); numpy t2: sig(1), sig(−1)
      expect(ints(v.get('demand'))).toEqual([2, 1, 3]);
      expect(ints(v.get('load'))).toEqual([2, 1, 3]); // null picks are kept: they cost nothing
      expect(ints(v.get('expert_offsets'))).toEqual([0, 2, 3]); // rows for the real experts only
      expect(ints(v.get('token_slot'))).toEqual([0, -1, 2, -1, -1, 1]); // priority order: t0 e0, t1 e1, then t2's 2nd choice e0
      expectClose(v.get('routed'), [
        1, 0, // by hand: ½ · FFN0([1, 0]) = ½ · [2, 0]
        1, 0, // by hand: ½ · FFN1([0, 2]) = ½ · relu([2, 0])
        0.5378828427399902, 0.5378828427399902, // numpy: sig(−1) · FFN0([1, 1]) = sig(−1) · [2, 2]
      ]);
    });

    it('every token to a null expert: the real experts get no rows and the layer gives 0', async () => {
      const g = layer('top_k 1  null_experts 2  capacity_factor 1.0', 'experts 2 { hidden 2 activation relu }', 2, 1, 3);
      // Router rows [0,0], [0,0], [1,1], [0,0]: every token with x0 + x1 > 0 picks null expert 2.
      const v = await forward(g, { x: [1, 0, 0, 2, 1, 1], 'router.weight': [0, 0, 0, 0, 1, 1, 0, 0], ...TWO_EXPERTS });
      expect(ints(v.get('token_expert'))).toEqual([2, 2, 2]);
      expect(ints(v.get('load'))).toEqual([0, 0, 3, 0]);
      expect(ints(v.get('expert_offsets'))).toEqual([0, 0, 0]);
      expect(ints(v.get('token_slot'))).toEqual([-1, -1, -1]);
      expect(ints(v.get('slot_token'))).toEqual([-1, -1, -1]); // rows = min(N·k, E·C) = min(3, 2 · 2), all unused
      expectClose(v.get('routed'), [0, 0, 0, 0, 0, 0]); // by hand
    });
  });

  it('sqrtsoftplus scores and their gradient', async () => {
    const g = layer('score sqrtsoftplus  top_k 1  capacity none', 'experts 2 { hidden 2 activation relu }', 2, 1, 1);
    const v = await forward(g, { x: [2, 0], 'router.weight': identity(2), ...TWO_EXPERTS });
    expectClose(v.get('probs'), [1.4583991261115636, 0.8325546111576977]); // numpy: sqrt(sp(2)), sqrt(sp(0)) = sqrt(ln 2)
    expect(ints(v.get('token_expert'))).toEqual([0]);
    expectClose(v.get('routed'), [5.8335965044462545, 0]); // numpy: sqrt(sp(2)) · FFN0([2, 0]) = p · [4, 0]
    // L = Σ routed = 4p: dL/dx0 = 4·sig(2)/(2p) (through the score) + 2p (through FFN0); dL/dx1 = 0 (relu'(0) = 0).
    const grads = await backend.backward(g, v, { routed: [1, 1] });
    expectClose(grads.get('x'), [4.124694036316601, 0]); // numpy: 4*sig(2)/(2*p0) + 2*p0
  });

  it('softmax after top-k: the gates are the softmax of the selected logits', async () => {
    // Router rows [1,0], [0,1], [.5,.5]: logits t0 [1, 0, .5], t1 [0, 1, .5].
    const g = layer('top_k 2  score_after_topk true  capacity none', 'experts 3 { hidden 2 activation relu }', 2, 1, 2);
    const v = await forward(g, {
      x: [1, 0, 0, 1],
      'router.weight': [1, 0, 0, 1, 0.5, 0.5],
      'experts.up.weight': repeat(identity(2), 3),
      'experts.down.weight': repeat(identity(2), 3),
    });
    expect(ints(v.get('token_expert'))).toEqual([0, 2, 1, 2]);
    // numpy: sm([1, .5]) = [sig(.5), sig(−.5)] for both tokens.
    expectClose(v.get('token_gate'), [0.6224593312018546, 0.37754066879814546, 0.6224593312018546, 0.37754066879814546]);
  });

  describe('capacity per sequence', () => {
    // 2 sequences of 2 tokens, all preferring e0 (logits [x0, 0]); C = ceil(0.5 · 1 · 2 / 2) = 1 per sequence.
    const given = { x: [1, 0, 2, 0, 3, 0, 0.5, 0], 'router.weight': identity(2), ...TWO_EXPERTS };

    it('drop by position keeps each sequence\'s first token', async () => {
      const g = layer('top_k 1  capacity_factor 0.5  capacity_scope sequence', 'experts 2 { hidden 2 activation relu }', 2, 2, 2);
      const v = await forward(g, given);
      expect(ints(v.get('token_slot'))).toEqual([0, -1, 1, -1]);
      expect(ints(v.get('load'))).toEqual([2, 0]);
      expect(ints(v.get('demand'))).toEqual([4, 0]);
      expectClose(v.get('routed'), [1.4621171572600098, 0, 0, 0, 5.7154447609346, 0, 0, 0]); // numpy: sig(x0) · 2·x0 for t0 and t2
    });

    it('drop by probability keeps each sequence\'s highest gate', async () => {
      const g = layer('top_k 1  capacity_factor 0.5  capacity_scope sequence  drop_policy by_probability', 'experts 2 { hidden 2 activation relu }', 2, 2, 2);
      const v = await forward(g, given);
      // Gates sig(1) < sig(2) in sequence 0, sig(3) > sig(.5) in sequence 1: t1 and t2 stay, rows in priority order.
      expect(ints(v.get('token_slot'))).toEqual([-1, 0, 1, -1]);
      expectClose(v.get('routed'), [0, 0, 3.5231883119115293, 0, 5.7154447609346, 0, 0, 0]); // numpy: sig(x0) · 2·x0 for t1 and t2
    });

    it('over the whole micro-batch the same capacity keeps one token in all', async () => {
      // C = ceil(0.5 · 1 · 4 / 2) = 1 for the 4 tokens together.
      const g = layer('top_k 1  capacity_factor 0.5', 'experts 2 { hidden 2 activation relu }', 2, 2, 2);
      const v = await forward(g, given);
      expect(ints(v.get('token_slot'))).toEqual([0, -1, -1, -1]);
    });
  });
});
