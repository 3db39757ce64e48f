/**
 * Rejects specs whose tensors no WebGPU device could hold, before anything
 * is allocated: every buffer must fit one storage binding, and indices must
 * fit 32 bits.
 */
import type { DiagnosticBag } from './diagnostics.ts';
import { numel } from './ir.ts';
import { lowerModel } from './lower.ts';
import type { ModelSpec } from './spec.ts';

/** 2^28 f32 elements = 1 GiB, beyond the binding limit of every device moec targets. */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

/** Reports E205 when the largest tensor of the training graph is too large. */
export function checkGraphSize(spec: ModelSpec, d: DiagnosticBag): void {
  // Estimate first: lowering a huge model would itself allocate large shape arrays.
  const N = spec.train.batch * spec.context;
  const rough = Math.max(N * spec.vocab, N * spec.width * 4, spec.vocab * spec.width, spec.ffn.kind === 'moe' ? N * spec.ffn.experts.count * spec.width : 0);
  const span = { start: 0, end: 0 };
  if (rough > MAX_TENSOR_ELEMENTS * 64) {
    d.error('E205', span, `this model's tensors reach ~${rough.toExponential(1)} elements; the limit is ${MAX_TENSOR_ELEMENTS}`, 'reduce batch, context, width or experts');
    return;
  }
  const graph = lowerModel(spec);
  let largest = { name: '', n: 0 };
  for (const t of graph.tensors.values()) {
    const n = numel(t.shape);
    if (n > largest.n) largest = { name: t.name, n };
  }
  if (largest.n > MAX_TENSOR_ELEMENTS) {
    d.error('E205', span, `tensor \`${largest.name}\` has ${largest.n} elements; the limit is ${MAX_TENSOR_ELEMENTS}`, 'reduce batch, context, width or experts');
  }
}
