/**
 * Every shipped MoE spec, one layer at a small odd shape (as `moec layer`
 * lowers it), through referenceForward + referenceBackward: the gradients of
 * `x` (its first and last token in full, plus random entries) and of a few
 * entries of every parameter must match central differences of
 * J = sum(y ⊙ dy) + the layer's losses.
 *
 * Tolerance: step 1e-6, max relative error max|a − b| / max(max|b|, 1e-8)
 * < 1e-6 per tensor. Coordinates whose perturbation changes a routing
 * decision are skipped and counted; at most 1% may be.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';
import { referenceBackward, referenceForward } from '../../codegen/reference/interpreter.ts';
import type { RefGrads, RefValues } from '../../codegen/reference/values.ts';
import { finiteDifferenceCheck } from './finite_difference.ts';
import { Rng } from './random.ts';

const STEP = 1e-6;
const TOLERANCE = 1e-6;
/** Parameter entries checked per tensor: this many random ones plus the one with the largest gradient. */
const RANDOM_ENTRIES = 6;
/** Random entries of x checked besides its first and last token. */
const RANDOM_X_ENTRIES = 48;

const files = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();

/**
 * Seeded values for the layer's inputs: x ~ N(0, 1); weights ~ N(0, 1/fan_in)
 * (fan_in = last dimension) so activations stay O(1); IA3 scales around 1;
 * the loss-free bias small enough to change only some selections.
 */
function fillLayer(graph: Graph, rng: Rng): RefValues {
  const produced = new Set(graph.ops.flatMap((op) => Object.values(op.outputs)));
  const values: RefValues = new Map();
  for (const t of graph.tensors.values()) {
    if (produced.has(t.name)) continue;
    const n = t.shape.reduce((a, b) => a * b, 1);
    const fanIn = t.shape.at(-1)!;
    if (t.role === 'input') values.set(t.name, rng.normals(n));
    else if (t.role === 'state') values.set(t.name, rng.normals(n, 0.05));
    else if (t.name.endsWith('ia3.scale')) values.set(t.name, rng.normals(n, 0.3).map((v) => 1 + v));
    else values.set(t.name, rng.normals(n, 1 / Math.sqrt(fanIn)));
  }
  return values;
}

describe('one MoE layer of every shipped spec', () => {
  for (const file of files) {
    const path = `specs/${file}`;
    const spec = checkSpec(readFileSync(path, 'utf8'), path).spec;
    if (!spec || spec.ffn.kind !== 'moe') continue;
    const core = spec.ffn.routing;
    // Odd sequence length; the batch must be a multiple of a Mixture-of-Tokens group.
    const shape = { batch: core.combine === 'mix' && typeof core.group === 'number' ? core.group : 3, seq: 3 };

    it(`${file} at batch ${shape.batch}, seq ${shape.seq}`, () => {
      const graph = lowerMoeBlock(spec, shape);
      const rng = new Rng(file.length * 7919 + 1);
      const values = fillLayer(graph, rng);
      const y = graph.output;
      const upstream: RefGrads = new Map([[y, rng.normals(values.get('x')!.length)]]);

      // Analytic gradients, to pick the parameter entries worth checking.
      const forward: RefValues = new Map(values);
      referenceForward(graph, forward);
      const grads: RefGrads = new Map([[y, Float64Array.from(upstream.get(y)!)]]);
      referenceBackward(graph, forward, grads);

      // Nothing that is not trained gets a gradient; everything trained does.
      for (const t of graph.tensors.values()) {
        const trained = t.role === 'param' || t.role === 'input';
        if (t.role === 'frozen' || t.role === 'state' || t.dtype === 'i32') expect(grads.has(t.name), `${t.name} (${t.role})`).toBe(false);
        if (trained) expect(grads.has(t.name), `${t.name} (${t.role})`).toBe(true);
      }

      const params = [...graph.tensors.values()].filter((t) => t.role === 'param').map((t) => t.name);
      const coords = new Map<string, number[]>();
      for (const name of params) {
        const g = grads.get(name)!;
        let largest = 0;
        for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[largest]!)) largest = i;
        coords.set(name, [largest, ...Array.from({ length: RANDOM_ENTRIES }, () => rng.int(g.length))]);
      }

      const [N, d] = graph.tensors.get('x')!.shape as [number, number];
      const xCoords = [...Array.from({ length: d }, (_, i) => i), ...Array.from({ length: d }, (_, i) => (N - 1) * d + i)];
      for (let i = 0; i < RANDOM_X_ENTRIES; i++) xCoords.push(rng.int(N * d));
      coords.set('x', xCoords);

      const reports = finiteDifferenceCheck({ graph, values, upstream, wrt: ['x', ...params], coords }, STEP);
      let checked = 0;
      let skipped = 0;
      for (const r of reports) {
        expect(r.maxRelError, `${r.tensor} (${r.checked} checked, ${r.skipped} skipped)`).toBeLessThan(TOLERANCE);
        checked += r.checked;
        skipped += r.skipped;
      }
      expect(skipped).toBeLessThanOrEqual(0.01 * (checked + skipped));
      expect(reports.find((r) => r.tensor === 'x')!.checked).toBeGreaterThan(0);
    });
  }

  it('covers every MoE spec in specs/', () => {
    const moe = files.filter((f) => checkSpec(readFileSync(`specs/${f}`, 'utf8'), f).spec?.ffn.kind === 'moe');
    expect(moe.length).toBe(files.length - 1); // all but dense.moe
  });
});
