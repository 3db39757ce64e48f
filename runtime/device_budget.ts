/**
 * The device-fit check at run time: the adapter's own limits and a stated
 * memory budget, checked before a plan allocates anything. WebGPU reports no
 * device memory, so the budget is MOEC_MEMORY_BUDGET_GIB when set, else half
 * of this machine's RAM (where a software adapter keeps its buffers; on a
 * GPU, set the variable to its memory).
 */
import { totalmem } from 'node:os';
import { DeviceFitError, fitProblems, type MemoryBudget } from '../codegen/device_fit.ts';
import type { BufferDecl, Kernel } from '../codegen/wgsl/kernel.ts';
import type { Graph } from '../compiler/ir.ts';
import type { Gpu } from './gpu.ts';

/** The memory budget in force, and where it comes from. */
export function memoryBudget(env: NodeJS.ProcessEnv = process.env): MemoryBudget {
  const raw = env.MOEC_MEMORY_BUDGET_GIB;
  if (raw !== undefined && raw !== '') {
    const gib = Number(raw);
    if (Number.isFinite(gib) && gib > 0) return { bytes: gib * 2 ** 30, source: `MOEC_MEMORY_BUDGET_GIB=${raw}` };
  }
  return { bytes: totalmem() / 2, source: 'half of this machine\'s RAM; set MOEC_MEMORY_BUDGET_GIB to change it' };
}

/** Throws DeviceFitError when the plan's buffers or grids exceed what `gpu` allows or the budget. */
export function assertFits(gpu: Gpu, graph: Graph, buffers: readonly BufferDecl[], kernels: readonly Kernel[]): void {
  const problems = fitProblems(graph, buffers, kernels, gpu.limits, memoryBudget());
  if (problems.length) throw new DeviceFitError(problems);
}
