/**
 * Seeded parameter initialisation from the IR's init specs (docs/MODEL.md):
 * each tensor draws from its own stream derived from (seed, tensor name), so
 * adding a tensor never changes the others' values.
 */
import { numel, type Graph, type Init, type Tensor } from '../compiler/ir.ts';
import { Rng } from './rng.ts';

/** Values of one tensor from its init spec, rounded to f32. */
export function initTensor(t: Tensor, seed: number): Float32Array {
  const n = numel(t.shape);
  const out = new Float32Array(n);
  const init: Init = t.init ?? { kind: 'zeros' };
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'constant':
      out.fill(init.value);
      break;
    case 'normal': {
      const rng = Rng.forName(seed, t.name);
      for (let i = 0; i < n; i++) out[i] = rng.normal() * init.std;
      break;
    }
  }
  return out;
}

/** Initial values of every param, frozen and state tensor of a graph. */
export function initGraph(graph: Graph, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const t of graph.tensors.values()) {
    if (t.role === 'param' || t.role === 'frozen' || t.role === 'state') out.set(t.name, initTensor(t, seed));
  }
  return out;
}
