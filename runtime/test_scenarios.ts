/**
 * The inputs `moec test` proves kernels on: for an MoE spec, its layer at an
 * odd shape (token count not a multiple of any tile or of the expert count),
 * the same layer with a router skewed so every token prefers expert 0
 * (experts with no tokens, capacity overflow) — and, with null experts, one
 * skewed to a null expert (real experts left with few rows) —, the layer at the spec's
 * training shape, the whole model at a small shape (attention, norms,
 * embeddings, the LM head), and the decoding step `moec sample` runs with a
 * key/value cache.
 */
import type { Graph, Tensor } from '../compiler/ir.ts';
import { numel } from '../compiler/ir.ts';
import { lowerDecode, lowerModel, lowerMoeBlock } from '../compiler/lower.ts';
import { windowOnlyReason } from './sampler.ts';
import { mixingBatch, moeDefinitions, type ModelSpec } from '../compiler/spec.ts';
import type { HostArray } from './executor.ts';
import { Rng } from './rng.ts';
import type { Scenario } from './kernel_check.ts';

/**
 * Test values for a tensor: inputs ~ N(0, 1); weights ~ N(0, 1/fan_in) so
 * activations stay O(1) at any width; ones-initialised tensors 1 + 0.1·N(0,1);
 * token ids and targets uniform over the vocabulary.
 */
export function testValue(t: Tensor, rng: Rng, vocab: number): HostArray {
  const n = numel(t.shape);
  if (t.dtype === 'i32') {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = rng.int(vocab);
    return out;
  }
  const out = new Float32Array(n);
  const init = t.init?.kind;
  const fanIn = t.shape.at(-1) ?? 1;
  for (let i = 0; i < n; i++) {
    if (t.role === 'input') out[i] = rng.normal();
    else if (init === 'ones') out[i] = 1 + 0.1 * rng.normal();
    else if (t.role === 'state') out[i] = 0.05 * rng.normal();
    else if (t.name.endsWith('log_temperature')) out[i] = 0.1 * rng.normal();
    else out[i] = rng.normal() / Math.sqrt(fanIn);
  }
  return out;
}

/** Random values for every input, param, frozen and state tensor of a graph. */
export function randomValues(graph: Graph, seed: number, vocab: number): Map<string, HostArray> {
  const values = new Map<string, HostArray>();
  for (const t of graph.tensors.values()) {
    if (t.role === 'input' || t.role === 'param' || t.role === 'frozen' || t.role === 'state') {
      values.set(t.name, testValue(t, Rng.forName(seed, t.name), vocab));
    }
  }
  return values;
}

/** Makes every token prefer router row `expert` (0: a routed expert; E: the first null expert): shifts x and aligns that row with the shift. */
function skew(values: Map<string, HostArray>, graph: Graph, expert = 0): void {
  const x = values.get('x') as Float32Array;
  const w = values.get('router.weight') as Float32Array | undefined;
  if (!x || !w) return;
  const d = graph.tensors.get('x')!.shape[1]!;
  for (let i = 0; i < x.length; i++) x[i]! += 1;
  for (let c = 0; c < d; c++) w[expert * d + c] = 3 / Math.sqrt(d);
}

/** Batch sizes must respect every Mixture of Tokens group of the model. */
function batchFor(spec: ModelSpec, wanted: number): number {
  const G = mixingBatch(spec);
  return Math.max(1, Math.ceil(wanted / G)) * G;
}

/** The scenarios `moec test` runs for a spec: the layer scenarios for each distinct MoE layer, then the whole model. */
export function scenariosFor(spec: ModelSpec, seed: number): Scenario[] {
  const out: Scenario[] = [];
  const seq = Math.min(spec.context, 7);
  const definitions = moeDefinitions(spec);
  for (const { block, moe } of definitions) {
    // Names say which block when layers differ; a single MoE definition keeps the short names.
    const at = definitions.length > 1 ? ` (block ${block})` : '';
    const odd = { batch: batchFor(spec, 3), seq: 5 };
    const g1 = lowerMoeBlock(spec, odd, block);
    out.push({ name: `layer ${odd.batch}x${odd.seq}${at}`, graph: g1, values: randomValues(g1, seed, spec.vocab), seed });
    const skewed = randomValues(g1, seed + 1, spec.vocab);
    skew(skewed, g1);
    out.push({ name: `layer ${odd.batch}x${odd.seq} skewed${at}`, graph: g1, values: skewed, seed: seed + 1 });
    if (moe.routing.nullExperts > 0) {
      // Every token's best choice a null expert: the real experts get few or no rows.
      const toNull = randomValues(g1, seed + 4, spec.vocab);
      skew(toNull, g1, moe.experts.count);
      out.push({ name: `layer ${odd.batch}x${odd.seq} skewed to a null expert${at}`, graph: g1, values: toNull, seed: seed + 4 });
    }
    const train = { batch: spec.train.batch, seq: spec.context };
    const g2 = lowerMoeBlock(spec, train, block);
    out.push({ name: `layer ${train.batch}x${train.seq}${at}`, graph: g2, values: randomValues(g2, seed + 2, spec.vocab), seed: seed + 2 });
  }
  const small = { batch: batchFor(spec, 2), seq };
  const gm = lowerModel(spec, small);
  out.push({ name: `model ${small.batch}x${small.seq}`, graph: gm, values: randomValues(gm, seed + 3, spec.vocab), seed: seed + 3 });
  if (!windowOnlyReason(spec)) out.push(decodeScenario(spec, seed + 5));
  return out;
}

/**
 * `moec sample`'s decoding step (routers that allow a key/value cache): the
 * caches filled with random keys and values, each sequence's new token at a
 * different position (the last one included).
 */
function decodeScenario(spec: ModelSpec, seed: number): Scenario {
  const batch = batchFor(spec, 2);
  const graph = lowerDecode(spec, batch);
  const values = randomValues(graph, seed, spec.vocab);
  values.set('positions', Int32Array.from({ length: batch }, (_, b) => Math.max(0, spec.context - 1 - 3 * b)));
  return { name: `decode step ${batch} (cache ${spec.context})`, graph, values, seed };
}
