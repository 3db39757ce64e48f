/**
 * `moec compile SPEC -o DIR`: everything a compiled model is, on disk —
 * `DIR/model.ts` (the harness), `DIR/kernels/*.wgsl` (each distinct kernel
 * once), and `DIR/manifest.json` (spec, parameters, buffers, kernels,
 * constants), so the model runs without the compiler.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainPlan } from '../train_plan.ts';
import { kernelIdentity } from '../wgsl/kernel_dump.ts';
import { harnessKernels } from '../train_plan.ts';
import { generateHarness } from './harness.ts';

/** A file name for a kernel id (ids are built from fixed words and numbers; anything else is replaced). */
export function kernelFileName(id: string): string {
  return `${id.replace(/\//g, '__').replace(/[^A-Za-z0-9._-]/g, '_')}.wgsl`;
}

/** The manifest of a compiled model: plain JSON, read by the runtime and by people. */
export function manifestOf(plan: TrainPlan, files: ReadonlyMap<string, string>): object {
  const { spec, graph } = plan;
  return {
    moec: 1,
    spec: { name: spec.name, path: spec.source.path, text: spec.source.text },
    shape: { batch: graph.batch, context: graph.seq, vocab: spec.vocab, accumulate: spec.train.accumulate },
    parameters: [...graph.tensors.values()].filter((t) => t.role === 'param' || t.role === 'frozen' || t.role === 'state').map((t) => ({ name: t.name, shape: t.shape, role: t.role, init: t.init })),
    losses: graph.losses,
    buffers: plan.buffers.map((b) => ({ name: b.name, elements: b.elements, dtype: b.dtype, kind: b.kind })),
    kernels: harnessKernels(plan).map((k) => ({ id: k.id, file: files.get(k.id), origin: k.origin, bindings: k.bindings.map((b) => b.buffer), workgroups: k.workgroups })),
    constants: Object.fromEntries(plan.buffers.filter((b) => b.kind === 'constant').map((b) => [b.name, Array.from(b.data ?? [])])),
  };
}

/** Writes model.ts, kernels/ and manifest.json into `dir`; returns the paths written. */
export function writeCompiledModel(plan: TrainPlan, dir: string): { model: string; manifest: string; kernels: number } {
  mkdirSync(join(dir, 'kernels'), { recursive: true });
  const files = new Map<string, string>();
  const byIdentity = new Map<string, string>();
  for (const k of harnessKernels(plan)) {
    if (files.has(k.id)) continue;
    const key = kernelIdentity(k);
    let file = byIdentity.get(key);
    if (!file) {
      file = kernelFileName(k.id);
      byIdentity.set(key, file);
      writeFileSync(join(dir, 'kernels', file), k.source);
    }
    files.set(k.id, file);
  }
  const model = join(dir, 'model.ts');
  const manifest = join(dir, 'manifest.json');
  writeFileSync(model, generateHarness(plan));
  // model.ts is an ES module wherever it is written (a folder without package.json would read it as CommonJS).
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' }, null, 2)}\n`);
  writeFileSync(manifest, `${JSON.stringify(manifestOf(plan, files), null, 1)}\n`);
  return { model, manifest, kernels: byIdentity.size };
}
