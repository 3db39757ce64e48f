/**
 * Finite-difference checks of every op's reference backward.
 *
 * Each op is checked alone: its inputs come from a forward pass of a graph
 * lowered from a small inline spec (so routing tables are realistic) or are
 * built by hand in a one-op graph, its float outputs get a random upstream
 * gradient, its losses gradient 1, and every differentiable input (f32, not
 * frozen/state/index) is perturbed coordinate by coordinate.
 *
 * Tolerance: central differences with step 1e-6 must match the analytic
 * gradient to a max relative error max|a − b| / max(max|b|, 1e-8) < 1e-6 per
 * tensor. Coordinates whose perturbation changes a routing decision (any
 * integer output) are skipped and counted; at most 1% of all may be.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { GraphBuilder } from '../../compiler/graph_builder.ts';
import type { Graph, Op, OpKind } from '../../compiler/ir.ts';
import { OP_KINDS } from '../../compiler/ops/registry.ts';
import { lowerModel, lowerMoeBlock } from '../../compiler/lower.ts';
import { referenceBackward, referenceForward, referenceOpBackward, referenceStateUpdates } from '../../codegen/reference/interpreter.ts';
import { takesGradient, type RefGrads, type RefValues } from '../../codegen/reference/values.ts';
import { finiteDifferenceCheck, floatOutputs, randomUpstream, singleOpGraph } from './finite_difference.ts';
import { Rng } from './random.ts';

const STEP = 1e-6;
const TOLERANCE = 1e-6;

const coveredKinds = new Set<OpKind>();
const coveredVariants = new Set<string>();
let checkedCoords = 0;
let skippedCoords = 0;

function spec(text: string) {
  const result = checkSpec(text, 'inline.moe');
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (!result.spec) throw new Error(`spec does not check: ${errors.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  return result.spec;
}

/** Random values for every tensor no op produces: ids below the vocabulary, small normals elsewhere. */
function fillInputs(graph: Graph, rng: Rng): RefValues {
  const produced = new Set(graph.ops.flatMap((op) => Object.values(op.outputs)));
  const vocab = graph.tensors.get('embed.weight')?.shape[0] ?? 1;
  const values: RefValues = new Map();
  for (const t of graph.tensors.values()) {
    if (produced.has(t.name)) continue;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.dtype === 'i32') values.set(t.name, Int32Array.from({ length: n }, () => rng.int(vocab)));
    else values.set(t.name, rng.normals(n, t.role === 'state' ? 0.1 : t.name.endsWith('log_temperature') ? 0.3 : t.role === 'input' ? 1 : 0.5));
  }
  return values;
}

/** What distinguishes the variants of an op the tests must all reach. */
function variantOf(op: Op): string {
  switch (op.kind) {
    case 'router':
      return `router:${op.attrs.score}/${op.attrs.normalize}${op.inputs.log_temperature ? '/learned' : ''}`;
    case 'select_top_k':
      return `select_top_k:${op.attrs.weights}${op.inputs.bias ? '+bias' : ''}${op.inputs.rank ? '+rank' : ''}${op.attrs.groups > 1 ? `+groups/${op.attrs.group_score}` : ''}${op.attrs.cut !== 'none' ? `+${op.attrs.cut}` : ''}${op.attrs.scale !== 1 ? '+scale' : ''}`;
    case 'assign':
      return `assign:${op.attrs.capacity === 0 ? 'dropless' : `capacity/${op.attrs.drop}${op.attrs.seq ? '/sequence' : ''}`}${op.attrs.null_experts ? '+null' : ''}`;
    case 'combine':
      return `combine${op.inputs.token_gate ? '' : ':ungated'}`;
    case 'expert_ffn':
      return `expert_ffn:${op.attrs.gather ? 'gathered' : 'contiguous'}${op.inputs.gate ? '+gated' : ''}`;
    case 'mix_weights':
      return `mix_weights:${op.attrs.group === 0 ? 'sequence' : 'tokens'}/${op.attrs.unmix}`;
    case 'activation':
    case 'ffn':
      return `${op.kind}:${op.attrs.activation}`;
    case 'norm':
      return `norm:${op.attrs.kind}${op.inputs.bias ? '+bias' : ''}`;
    default:
      return op.kind;
  }
}

/** The op's inputs that take a gradient, each once. */
function differentiableInputs(graph: Graph, op: Op): string[] {
  return [...new Set(Object.values(op.inputs))].filter((n) => takesGradient(graph, n));
}

/** Checks one op of `graph` by finite differences, with `values` holding (at least) its inputs. */
function checkOp(graph: Graph, op: Op, values: RefValues, rng: Rng): void {
  const sub = singleOpGraph(graph, op);
  const upstream = randomUpstream(sub, floatOutputs(sub), rng);
  const wrt = differentiableInputs(graph, op);

  // Backward writes gradients only for tensors that take one (never frozen, state, index or i32).
  const grads: RefGrads = new Map([...upstream].map(([k, v]) => [k, Float64Array.from(v)]));
  referenceOpBackward(op, sub, values, grads);
  for (const name of grads.keys()) expect(takesGradient(graph, name), `${name} got a gradient`).toBe(true);
  for (const name of wrt) expect(grads.has(name), `${name} has a gradient buffer`).toBe(true);

  for (const r of finiteDifferenceCheck({ graph: sub, values, upstream, wrt }, STEP)) {
    expect(r.maxRelError, `${op.name}: d/d ${r.tensor} (${r.checked} checked, ${r.skipped} skipped)`).toBeLessThan(TOLERANCE);
    checkedCoords += r.checked;
    skippedCoords += r.skipped;
  }
  coveredKinds.add(op.kind);
  coveredVariants.add(variantOf(op));
}

/** One test per op of a lowered graph, on the values of one forward pass with random inputs. */
function describeGraph(label: string, build: () => Graph, seed: number): void {
  describe(label, () => {
    const graph = build();
    const rng = new Rng(seed);
    const values = fillInputs(graph, rng);
    referenceForward(graph, values);
    for (const op of graph.ops) {
      it(`${op.kind} ${op.name}`, () => checkOp(graph, op, values, rng));
    }
  });
}

const MODELS: Record<string, string> = {
  'model: rms norm, learned positions, gelu FFN, tied embeddings': `
    model a { vocab 256 context 5 width 8 depth 1 heads 2 norm rms position learned
      ffn dense { hidden 6 activation gelu } }`,
  'model: layer norm, rotary, swiglu FFN, untied head': `
    model b { vocab 256 context 5 width 8 depth 1 heads 2 norm layer position rotary tie_embeddings false
      ffn dense { hidden 6 activation swiglu } }`,
};

const ROUTE = (experts: string, route: string, extra = '') => `
  model l { width 8 heads 2 ffn moe { ${experts} ${extra} route ${route} } }
  train { batch 4 }`;

const LAYERS: Record<string, string> = {
  'top-1 softmax, capacity with drops, balance + z losses': ROUTE('experts 3 { hidden 6 activation gelu }', 'token_choice { top_k 1 capacity_factor 0.5 balance_loss 0.01 z_loss 0.001 }'),
  'top-2 renormalized dropless, swiglu, shared relu experts, sequence balance': ROUTE('experts 4 { hidden 4 activation swiglu }', 'token_choice { top_k 2 capacity none renormalize true sequence_balance 0.01 }', 'shared 2 { hidden 4 activation relu }'),
  'sigmoid top-2 renormalized with loss-free bias (DeepSeek-V3)': ROUTE('experts 4 { hidden 4 activation silu }', 'token_choice { top_k 2 score sigmoid renormalize true capacity none bias_balance 0.001 }'),
  'sqrtsoftplus top-2 renormalized, capacity with drops': ROUTE('experts 4 { hidden 4 activation gelu }', 'token_choice { top_k 2 score sqrtsoftplus renormalize true capacity_factor 0.5 balance_loss 0.01 }'),
  'sigmoid top-2 raw with bias and capacity': ROUTE('experts 4 { hidden 4 activation gelu }', 'core { score sigmoid normalize none select token_choice top_k 2 weights raw capacity_factor 1.0 bias_balance 0.01 }'),
  'softmax top-2 raw with learned temperature': ROUTE('experts 3 { hidden 4 activation gelu }', 'core { top_k 2 learn_temperature true temperature 0.7 balance_loss 0.01 }'),
  'expert choice softmax with z-loss': ROUTE('experts 3 { hidden 4 activation gelu }', 'expert_choice { capacity_factor 1.5 z_loss 0.001 }'),
  'expert choice sigmoid': ROUTE('experts 3 { hidden 4 activation relu }', 'core { score sigmoid normalize none select expert_choice capacity_factor 1.0 }'),
  'mixture of tokens (group 2, dispatch), learned temperature': ROUTE('experts 3 { hidden 4 activation gelu }', 'mixture_of_tokens { group 2 learn_temperature true temperature 0.8 }'),
  'soft MoE (sequence, slot softmax), 2 slots': ROUTE('experts 2 { hidden 4 activation gelu }', 'soft { slots 2 }'),
  'mixing across the batch with slot softmax, 2 slots': ROUTE('experts 2 { hidden 4 activation silu }', 'core { combine mix unmix slot_softmax group 2 slots 2 }'),
  'mixing within a sequence with dispatch, swiglu experts': ROUTE('experts 2 { hidden 4 activation swiglu }', 'core { combine mix unmix dispatch group sequence }'),
  'MoV (ia3, gelu), soft merge': ROUTE('experts 3 ia3 { hidden 6 activation gelu }', 'soft_merge { }'),
  'MoV (ia3, swiglu), top-2 token choice': ROUTE('experts 3 ia3 { hidden 6 activation swiglu }', 'token_choice { top_k 2 }'),
  'MoLoRA (rank 2, alpha 4), soft merge': ROUTE('experts 3 lora { hidden 6 activation gelu rank 2 alpha 4 }', 'soft_merge { }'),
  'ReLU routing: threshold 0, at most 4, L1 loss, dropless': ROUTE('experts 6 { hidden 4 activation gelu }', 'token_choice { score relu top_k 4 threshold 0 capacity none l1_loss 0.01 }'),
  'group-limited top-4 (sum_top2, 4 groups keep 2), sigmoid, bias, scale 2.5 (DeepSeek-V3)': ROUTE(
    'experts 8 { hidden 4 activation silu }',
    'token_choice { score sigmoid top_k 4 groups 4 top_groups 2 group_score sum_top2 renormalize true routed_scale 2.5 bias_balance 0.001 capacity none }',
  ),
  'group-limited max (DeepSeek-V2), softmax after top-k, capacity': ROUTE('experts 6 { hidden 4 activation gelu }', 'token_choice { top_k 2 groups 3 top_groups 2 score_after_topk true capacity_factor 1.0 }'),
  'top-p 0.6 (at most 3), drop by probability, global balance': ROUTE('experts 5 { hidden 4 activation gelu }', 'token_choice { top_k 3 top_p 0.6 capacity_factor 0.6 drop_policy by_probability global_balance 0.01 }'),
  'sigmoid threshold 0.5 (at most 2), renormalized, capacity per sequence': ROUTE('experts 4 { hidden 4 activation relu }', 'token_choice { score sigmoid top_k 2 threshold 0.5 renormalize true capacity_factor 1.0 capacity_scope sequence }'),
  'null experts, top-2 renormalized, capacity by position per sequence, balance': ROUTE('experts 4 { hidden 4 activation gelu }', 'token_choice { top_k 2 null_experts 2 renormalize true capacity_factor 1.0 capacity_scope sequence balance_loss 0.01 }'),
  'Sinkhorn top-1 with capacity': ROUTE('experts 3 { hidden 4 activation gelu }', 'token_choice { top_k 1 sinkhorn 8 capacity_factor 1.0 }'),
  'gates on the input (Llama 4), sigmoid top-1; gated shared expert (Qwen-MoE)': ROUTE('experts 3 { hidden 4 activation silu }', 'token_choice { score sigmoid top_k 1 apply_gates input capacity none }', 'shared 1 { hidden 4 gate sigmoid }'),
};

let seed = 1;
for (const [label, text] of Object.entries(MODELS)) describeGraph(label, () => lowerModel(spec(text), { batch: 2, seq: 3 }), seed++);
for (const [label, text] of Object.entries(LAYERS)) describeGraph(`layer: ${label}`, () => lowerMoeBlock(spec(text), { batch: 4, seq: 3 }), seed++);

// ---------------------------------------------------------------- one-op graphs built by hand

const at = { line: 0, text: '' };

describe('one-op graphs', () => {
  for (const act of ['relu', 'gelu', 'silu', 'relu2', 'swiglu'] as const) {
    it(`activation ${act}`, () => {
      const g = new GraphBuilder();
      const x = g.tensor('x', [5, 4], 'f32', 'activation');
      const inputs = act === 'swiglu' ? { x, gate: g.tensor('gate', [5, 4], 'f32', 'activation') } : { x };
      g.op('activation', 'act', inputs, { y: g.tensor('y', [5, 4], 'f32', 'activation') }, { activation: act }, at);
      const graph = g.build('layer', 'act', 1, 5, 'y');
      const rng = new Rng(100);
      checkOp(graph, graph.ops[0]!, fillInputs(graph, rng), rng);
    });
  }

  it('norm rms with a bias is not an op the IR has (no backend implements it): GraphBuilder refuses it', () => {
    const g = new GraphBuilder();
    const x = g.tensor('x', [3, 5], 'f32', 'input');
    const weight = g.tensor('w', [5], 'f32', 'param');
    const bias = g.tensor('b', [5], 'f32', 'param');
    expect(() => g.op('norm', 'norm', { x, weight, bias }, { y: g.tensor('y', [3, 5], 'f32', 'activation') }, { kind: 'rms', eps: 1e-5 }, at)).toThrow(/layer norm has a bias, rms norm none/);
  });

  /** Routing tables with some −1 (none) choices, for the adapter ops. */
  function choices(g: GraphBuilder, values: RefValues, rng: Rng, N: number, K: number, E: number): { token_expert: string; token_gate: string } {
    const token_expert = g.tensor('token_expert', [N, K], 'i32', 'index');
    const token_gate = g.tensor('token_gate', [N, K], 'f32', 'activation');
    values.set(token_expert, Int32Array.from({ length: N * K }, (_, i) => (i % 4 === 3 ? -1 : rng.int(E))));
    return { token_expert, token_gate };
  }

  it('ia3_scale with −1 choices', () => {
    const g = new GraphBuilder();
    const rng = new Rng(102);
    const pre: RefValues = new Map();
    const routing = choices(g, pre, rng, 4, 2, 3);
    const x = g.tensor('x', [4, 5], 'f32', 'activation');
    const scale = g.tensor('scale', [3, 5], 'f32', 'param');
    g.op('ia3_scale', 'ia3', { x, scale, ...routing }, { y: g.tensor('y', [4, 5], 'f32', 'activation') }, {}, at);
    const graph = g.build('layer', 'ia3', 1, 4, 'y');
    const values = fillInputs(graph, rng);
    values.set(routing.token_expert, pre.get(routing.token_expert)!);
    checkOp(graph, graph.ops[0]!, values, rng);
  });

  for (const role of ['frozen', 'param'] as const) {
    it(`lora_linear with −1 choices and a ${role} weight`, () => {
      const g = new GraphBuilder();
      const rng = new Rng(103);
      const pre: RefValues = new Map();
      const routing = choices(g, pre, rng, 4, 2, 3);
      const x = g.tensor('x', [4, 5], 'f32', 'activation');
      const weight = g.tensor('w', [6, 5], 'f32', role);
      const lora_a = g.tensor('a', [3, 2, 5], 'f32', 'param');
      const lora_b = g.tensor('b', [3, 6, 2], 'f32', 'param');
      g.op('lora_linear', 'lora', { x, weight, lora_a, lora_b, ...routing }, { y: g.tensor('y', [4, 6], 'f32', 'activation') }, { scale: 1.5 }, at);
      const graph = g.build('layer', 'lora', 1, 4, 'y');
      const values = fillInputs(graph, rng);
      values.set(routing.token_expert, pre.get(routing.token_expert)!);
      checkOp(graph, graph.ops[0]!, values, rng);
    });
  }
});

// ---------------------------------------------------------------- composition

describe('whole graphs (gradients summed over several ops)', () => {
  it('a two-block model with tied embeddings and a top-2 MoE block', () => {
    const graph = lowerModel(
      spec(`model c { vocab 256 context 4 width 8 depth 2 heads 2 position rotary
        ffn moe every 2 { experts 3 { hidden 4 activation gelu } route token_choice { top_k 2 capacity_factor 1.0 balance_loss 0.01 z_loss 0.01 } } }`),
      { batch: 2, seq: 3 },
    );
    const rng = new Rng(200);
    const values = fillInputs(graph, rng);
    // Every coordinate of the small tensors; 40 random rows' worth of the tied 256 × 8 embedding.
    const wrt = [...graph.tensors.values()].filter((t) => t.role === 'param').map((t) => t.name);
    const embedCoords = Array.from({ length: 40 }, () => rng.int(256 * 8));
    const ids = values.get('tokens')!;
    for (let t = 0; t < 6; t++) for (let i = 0; i < 8; i++) embedCoords.push(ids[t]! * 8 + i); // rows actually looked up
    const reports = finiteDifferenceCheck({ graph, values, upstream: new Map(), wrt, coords: new Map([['embed.weight', embedCoords]]) }, STEP);
    for (const r of reports) {
      expect(r.maxRelError, `${r.tensor} (${r.checked} checked, ${r.skipped} skipped)`).toBeLessThan(TOLERANCE);
      checkedCoords += r.checked;
      skippedCoords += r.skipped;
    }
  });
});

// ---------------------------------------------------------------- not differentiated, and conventions

describe('bias_update (a state update, not differentiated)', () => {
  function biasGraph(E: number): Graph {
    const g = new GraphBuilder();
    const demand = g.tensor('demand', [E], 'i32', 'index');
    const bias = g.tensor('bias', [E], 'f32', 'state');
    g.stateUpdate('bias_update', 'bias_update', { demand }, { bias }, { rate: 0.01, k: 1 }, at);
    return g.build('layer', 'bias', 1, 1, bias);
  }

  it('moves each bias by γ·sign(mean(demand) − demand_e)', () => {
    const graph = biasGraph(4);
    const old = Float64Array.from([0.5, -0.25, 0, 1]);
    const values: RefValues = new Map<string, Float64Array | Int32Array>([['demand', Int32Array.from([3, 1, 2, 2])], ['bias', old]]);
    referenceStateUpdates(graph, values);
    // mean 2: over-used expert 0 down, under-used expert 1 up, experts at the mean unchanged.
    expect(Array.from(values.get('bias')!)).toEqual([0.5 - 0.01, -0.25 + 0.01, 0, 1]);
    expect(Array.from(old)).toEqual([0.5, -0.25, 0, 1]); // the previous value is left as it was
  });

  it('leaves an expert at exactly the mean alone', () => {
    // Counts [7, 6, 5]: mean 6 — though 7/3 + 6/3 + 5/3 is 6.000000000000001 in floating point.
    const graph = biasGraph(3);
    const values: RefValues = new Map<string, Float64Array | Int32Array>([['demand', Int32Array.from([7, 6, 5])], ['bias', new Float64Array(3)]]);
    referenceStateUpdates(graph, values);
    expect(Array.from(values.get('bias')!)).toEqual([-0.01, 0, 0.01]);
  });

  it('has no backward effect', () => {
    const graph = biasGraph(2);
    const grads: RefGrads = new Map();
    referenceOpBackward(graph.stateUpdates[0]!, graph, new Map(), grads);
    expect(grads.size).toBe(0);
  });
});

describe('conventions', () => {
  it('refuses a router with jitter > 0', () => {
    const graph = lowerMoeBlock(spec(ROUTE('experts 2 { hidden 4 }', 'token_choice { top_k 1 jitter 0.01 }')), { batch: 1, seq: 2 });
    const values = fillInputs(graph, new Rng(300));
    expect(() => referenceForward(graph, values)).toThrow(/jitter 0.01 > 0/);
  });

  it('seeds each loss with gradient 1 unless grads already holds one', () => {
    const graph = lowerMoeBlock(spec(ROUTE('experts 3 { hidden 4 }', 'token_choice { top_k 1 z_loss 0.5 }')), { batch: 1, seq: 3 });
    const values = fillInputs(graph, new Rng(301));
    referenceForward(graph, values);
    const once: RefGrads = new Map();
    referenceBackward(graph, values, once);
    expect(once.get('loss.z')![0]).toBe(1);
    const twice: RefGrads = new Map([['loss.z', Float64Array.from([2])]]);
    referenceBackward(graph, values, twice);
    const a = once.get('router.weight')!;
    const b = twice.get('router.weight')!;
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(2 * a[i]!, 14);
  });
});

// ---------------------------------------------------------------- coverage

describe('coverage', () => {
  afterAll(() => {
    // Informational: how many coordinates the file checked.
    console.info(`finite differences: ${checkedCoords} coordinates checked, ${skippedCoords} skipped (routing changed)`);
  });

  it('reaches every op kind except the never-differentiated bias_update and decode_attention (sampling), and every variant', () => {
    const kinds = OP_KINDS.filter((k) => k !== 'bias_update' && k !== 'decode_attention');
    expect([...coveredKinds].sort()).toEqual(kinds.sort());
    for (const v of [
      'activation:relu', 'activation:gelu', 'activation:silu', 'activation:relu2', 'activation:swiglu',
      'norm:rms', 'norm:layer+bias',
      'router:softmax/per_token', 'router:sigmoid/none', 'router:sqrtsoftplus/none', 'router:softmax/per_token/learned', 'router:softmax/per_expert/learned',
      'router:relu/none',
      'select_top_k:raw', 'select_top_k:renormalized', 'select_top_k:raw+bias', 'select_top_k:renormalized+bias',
      'select_top_k:raw+threshold', 'select_top_k:renormalized+bias+groups/sum_top2+scale', 'select_top_k:renormalized+rank+groups/max',
      'select_top_k:raw+top_p', 'select_top_k:renormalized+threshold', 'select_top_k:raw+rank',
      'select_top_c', 'select_all', 'assign:capacity/by_position', 'assign:dropless', 'assign:capacity/by_probability', 'assign:capacity/by_position/sequence',
      'assign:capacity/by_position/sequence+null', 'combine', 'combine:ungated',
      'expert_ffn:gathered', 'expert_ffn:gathered+gated', 'expert_ffn:contiguous', 'expert_ffn:contiguous+gated',
      'mix_weights:tokens/dispatch', 'mix_weights:tokens/slot_softmax', 'mix_weights:sequence/dispatch', 'mix_weights:sequence/slot_softmax',
    ]) {
      expect(coveredVariants, v).toContain(v);
    }
  });

  it('skipped few coordinates for changed routing', () => {
    expect(checkedCoords).toBeGreaterThan(1000);
    expect(skippedCoords).toBeLessThanOrEqual(0.01 * (checkedCoords + skippedCoords));
  });
});
