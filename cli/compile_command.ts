/**
 * `moec compile SPEC -o DIR`: the compiled model on disk, usable without the
 * CLI (see docs/HARNESS.md).
 */
import { resolve } from 'node:path';
import { DEFAULT_TARGET } from '../codegen/wgsl/kernel.ts';
import { writeCompiledModel } from '../codegen/harness/compile_output.ts';
import { trainPlan } from '../codegen/train_plan.ts';
import { requireSpec } from './load_spec.ts';

export function compileCommand(path: string, out: string): void {
  const spec = requireSpec(path);
  // Kernels for WebGPU's guaranteed limits, so the output runs on any adapter.
  const written = writeCompiledModel(trainPlan(spec, DEFAULT_TARGET), resolve(out));
  process.stdout.write(`wrote ${written.model}, ${written.manifest} and ${written.kernels} kernels in ${resolve(out, 'kernels')}\n`);
}
