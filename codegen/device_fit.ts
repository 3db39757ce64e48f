/**
 * Whether a generated model fits a device, decided from the plan before
 * anything is allocated: how much memory it needs (parameters, optimizer
 * state, activations and gradients), each buffer against the storage
 * binding and buffer limits, the total against a stated memory budget, and
 * each kernel's grid against the workgroups-per-dimension limit. Problems
 * point at the spec key that sets the size, so a spec that passes never
 * reaches a WebGPU error.
 */
import type { Code, Diagnostic } from '../compiler/diagnostics.ts';
import type { Graph } from '../compiler/ir.ts';
import { keysOfShape, sizeSpan } from '../compiler/key_span.ts';
import type { ModelSpec, Origin } from '../compiler/spec.ts';
import type { BufferDecl, Kernel } from './wgsl/kernel.ts';

/** The adapter limits sizes are compared with. */
export interface DeviceLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
}

/** What WebGPU guarantees every adapter offers (a spec within these runs anywhere). */
export const WEBGPU_DEFAULT_LIMITS: DeviceLimits = { maxStorageBufferBindingSize: 134_217_728, maxBufferSize: 268_435_456, maxComputeWorkgroupsPerDimension: 65_535 };

/** The memory all buffers may take together, and where that number comes from (for messages). */
export interface MemoryBudget {
  readonly bytes: number;
  readonly source: string;
}

/** Bytes a plan's buffers take, by what they hold. */
export interface MemoryReport {
  readonly parameters: number;
  readonly optimizer: number;
  readonly gradients: number;
  /** Activations, saved and scratch data, routing tables, constants. */
  readonly activations: number;
  readonly total: number;
  readonly largest: { readonly name: string; readonly bytes: number };
}

/** Bytes of one buffer as allocated (at least 4). */
function bytesOf(b: BufferDecl): number {
  return Math.max(4, b.elements * 4);
}

/** The graph tensor whose shape a buffer has: itself, the tensor it is the gradient of, or the parameter it holds optimizer state for. */
function tensorOf(graph: Graph, name: string): string | undefined {
  const base = name.startsWith('grad/') ? name.slice(5) : name.startsWith('optimizer.') ? name.slice('optimizer.'.length).replace(/\/[^/]*$/, '') : name;
  return graph.tensors.has(base) ? base : undefined;
}

/** The memory a plan's buffers need, by kind. */
export function memoryReport(graph: Graph, buffers: readonly BufferDecl[]): MemoryReport {
  let parameters = 0;
  let optimizer = 0;
  let gradients = 0;
  let activations = 0;
  let largest = { name: '', bytes: 0 };
  for (const b of buffers) {
    const n = bytesOf(b);
    const role = graph.tensors.get(b.name)?.role;
    if (b.kind === 'grad') gradients += n;
    else if (b.name.startsWith('optimizer.')) optimizer += n;
    else if (b.kind === 'tensor' && (role === 'param' || role === 'frozen' || role === 'state')) parameters += n;
    else activations += n;
    if (n > largest.bytes) largest = { name: b.name, bytes: n };
  }
  return { parameters, optimizer, gradients, activations, total: parameters + optimizer + gradients + activations, largest };
}

/** A size a device cannot hold, before it is tied to a spec's text. */
export interface FitProblem {
  readonly code: Extract<Code, 'E206' | 'W303'>;
  readonly message: string;
  readonly hint: string;
  /** The shape behind it, when it is a tensor's (its dimensions name the keys that set it). */
  readonly shape?: readonly number[];
  /** The tensor of that shape. */
  readonly tensor?: string;
  /** The spec line of the op that made it. */
  readonly origin: Origin;
}

/** `1.5 GiB`, `12.0 MiB`, `512 B`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The first kernel that binds each buffer: its op's origin is where the buffer comes from. */
function originsOf(kernels: readonly Kernel[]): Map<string, Origin> {
  const out = new Map<string, Origin>();
  for (const k of kernels) for (const b of k.bindings) if (!out.has(b.buffer)) out.set(b.buffer, k.origin);
  return out;
}

/**
 * Every size of the plan that `limits` cannot hold (errors), or, with
 * `portable`, that exceeds what WebGPU guarantees (warnings: such a spec
 * needs an adapter that offers more); and the total against `budget`
 * (always an error).
 */
export function fitProblems(graph: Graph, buffers: readonly BufferDecl[], kernels: readonly Kernel[], limits: DeviceLimits, budget: MemoryBudget | undefined, portable = false): FitProblem[] {
  const code = portable ? 'W303' : 'E206';
  const whose = portable ? 'WebGPU guarantees' : 'this adapter allows';
  const out: FitProblem[] = [];
  const origins = originsOf(kernels);
  const none: Origin = { line: 0, text: '' };
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const limitName = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
  const tooBig = buffers.filter((b) => bytesOf(b) > binding).sort((a, b) => bytesOf(b) - bytesOf(a));
  for (const b of tooBig.slice(0, 3)) {
    const t = tensorOf(graph, b.name);
    const shape = t ? graph.tensors.get(t)!.shape : undefined;
    out.push({
      code,
      message: `buffer \`${b.name}\`${shape ? ` [${shape.join(', ')}]` : ''} needs ${formatBytes(bytesOf(b))}; ${whose} ${formatBytes(binding)} per buffer (${limitName})`,
      hint: portable ? 'it runs only on an adapter that offers more: check with `moec check --device`, or make the sizes named here smaller' : 'make the sizes that set it smaller',
      ...(shape && t ? { shape, tensor: t } : {}),
      origin: origins.get(b.name) ?? none,
    });
  }
  if (tooBig.length > 3) out.push({ code, message: `and ${tooBig.length - 3} more buffers above ${formatBytes(binding)}`, hint: 'make the sizes named above smaller', origin: origins.get(tooBig[3]!.name) ?? none });
  const maxGrid = limits.maxComputeWorkgroupsPerDimension;
  const wide = kernels.find((k) => k.workgroups.some((n) => n > maxGrid));
  if (wide) {
    out.push({
      code,
      message: `kernel ${wide.id} needs a grid of ${wide.workgroups.join(' x ')} workgroups; ${whose} ${maxGrid} per dimension (maxComputeWorkgroupsPerDimension)`,
      hint: 'make batch, context or width smaller',
      origin: wide.origin,
    });
  }
  if (budget) {
    const report = memoryReport(graph, buffers);
    if (report.total > budget.bytes) {
      out.push({
        code: 'E206',
        message: `the model needs ${formatBytes(report.total)} of buffers in all (parameters ${formatBytes(report.parameters)}, optimizer state ${formatBytes(report.optimizer)}, gradients ${formatBytes(report.gradients)}, activations ${formatBytes(report.activations)}); the memory budget is ${formatBytes(budget.bytes)} (${budget.source})`,
        hint: 'make width, depth, experts, batch or context smaller, or raise the budget with MOEC_MEMORY_BUDGET_GIB if the device has the memory',
        origin: none,
      });
    }
  }
  return out;
}

/** Thrown before allocation when a plan does not fit the device: the CLI ties the problems to the spec's text. */
export class DeviceFitError extends Error {
  constructor(readonly problems: readonly FitProblem[]) {
    super(problems.map((p) => p.message).join('; '));
    this.name = 'DeviceFitError';
  }
}

/** A fit problem as a diagnostic of the spec's text: at the first key that sets its size, else at its op's line. */
export function fitDiagnostic(spec: ModelSpec, p: FitProblem): Diagnostic {
  const text = spec.source.text;
  const keys = p.shape ? keysOfShape(spec, p.shape, p.tensor) : [];
  const span = sizeSpan(text, keys, p.origin.line);
  const set = keys.length ? ` (its size is set by ${keys.join(' × ')})` : '';
  return { code: p.code, severity: p.code === 'W303' ? 'warning' : 'error', span, message: `${p.message}${set}`, hint: p.hint };
}
