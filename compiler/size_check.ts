/**
 * Rejects specs whose tensors no WebGPU device could hold, before anything
 * is allocated: every buffer must fit one storage binding, and indices must
 * fit 32 bits.
 */
import type { DiagnosticBag } from './diagnostics.ts';
import { numel } from './ir.ts';
import { lowerModel } from './lower.ts';
import type { ModelSpec } from './spec.ts';
import { keysOfShape, sizeSpan } from './key_span.ts';

/** 2^28 f32 elements = 1 GiB, beyond the binding limit of every device moec targets. */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

/** Reports E205 when the largest tensor of the training graph is too large. */
export function checkGraphSize(spec: ModelSpec, d: DiagnosticBag): void {
  // Estimate first: lowering a huge model would itself allocate large shape arrays.
  const N = spec.train.batch * spec.context;
  const rough = Math.max(N * spec.vocab, N * spec.width * 4, spec.vocab * spec.width, ...spec.layers.map((l) => (l.kind === 'moe' ? N * (l.experts.count + l.routing.nullExperts) * spec.width : 0)));
  const text = spec.source.text;
  if (rough > MAX_TENSOR_ELEMENTS * 64) {
    d.error('E205', sizeSpan(text, ['width', 'vocab', 'batch', 'context', 'experts']), `this model's tensors reach ~${rough.toExponential(1)} elements; the limit is ${MAX_TENSOR_ELEMENTS}`, 'reduce batch, context, width or experts');
    return;
  }
  const graph = lowerModel(spec);
  let largest = { name: '', n: 0, shape: [] as readonly number[] };
  for (const t of graph.tensors.values()) {
    const n = numel(t.shape);
    if (n > largest.n) largest = { name: t.name, n, shape: t.shape };
  }
  if (largest.n > MAX_TENSOR_ELEMENTS) {
    const keys = keysOfShape(spec, largest.shape, largest.name);
    d.error('E205', sizeSpan(text, keys), `tensor \`${largest.name}\` [${largest.shape.join(', ')}] has ${largest.n} elements; moec indexes at most ${MAX_TENSOR_ELEMENTS} (1 GiB of f32) per tensor`, `reduce ${keys.length ? keys.join(' or ') : 'batch, context, width or experts'}`);
  }
}
