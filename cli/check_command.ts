/**
 * `moec check`: the checker's diagnostics, then what the model needs in
 * memory, and whether it fits — WebGPU's guaranteed limits and the memory
 * budget always, the adapter's own limits with `--device`.
 */
import { fitProblems, formatBytes, memoryReport, WEBGPU_DEFAULT_LIMITS, DeviceFitError, type FitProblem } from '../codegen/device_fit.ts';
import { planKernels, trainPlan } from '../codegen/train_plan.ts';
import { DEFAULT_TARGET } from '../codegen/wgsl/kernel.ts';
import { memoryBudget } from '../runtime/device_budget.ts';
import { sharedGpu } from '../runtime/gpu.ts';
import { targetFor } from '../runtime/tuning.ts';
import { printFitProblems } from './device_fit_report.ts';
import { loadSpec } from './load_spec.ts';

export interface CheckOptions {
  json?: boolean;
  device?: boolean;
}

/** Checks each spec; returns the exit status (1 when any has errors or does not fit). */
export async function checkCommand(specs: readonly string[], opts: CheckOptions): Promise<number> {
  let failed = false;
  for (const path of specs) {
    const r = loadSpec(path, opts);
    if (!r.spec) {
      failed = true;
      continue;
    }
    const spec = r.spec;
    const gpu = opts.device ? await sharedGpu() : undefined;
    const plan = trainPlan(spec, gpu ? targetFor(gpu) : DEFAULT_TARGET);
    const kernels = planKernels(plan);
    const budget = memoryBudget();
    const problems: FitProblem[] = gpu
      ? fitProblems(plan.graph, plan.buffers, kernels, gpu.limits, budget)
      : fitProblems(plan.graph, plan.buffers, kernels, WEBGPU_DEFAULT_LIMITS, budget, true);
    const errors = problems.length ? printFitProblems(spec, new DeviceFitError(problems)) : 0;
    if (errors) failed = true;
    if (opts.json) continue;
    const m = memoryReport(plan.graph, plan.buffers);
    const warnings = r.diagnostics.length + problems.length - errors;
    const status = errors ? `does not fit${gpu ? ` ${gpu.adapterName}` : ''}` : `ok${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}`;
    process.stderr.write(
      `${path}: ${status}\n` +
        `  memory for training: parameters ${formatBytes(m.parameters)}, optimizer state ${formatBytes(m.optimizer)}, gradients ${formatBytes(m.gradients)}, activations ${formatBytes(m.activations)}; total ${formatBytes(m.total)} (budget ${formatBytes(budget.bytes)}: ${budget.source})\n` +
        `  largest buffer: ${m.largest.name} ${formatBytes(m.largest.bytes)}; ${gpu ? `${gpu.adapterName} binds at most ${formatBytes(gpu.limits.maxStorageBufferBindingSize)}` : `WebGPU guarantees ${formatBytes(WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize)} (--device compares with this machine's adapter)`}\n`,
    );
  }
  return failed ? 1 : 0;
}
