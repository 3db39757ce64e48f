/**
 * What the WGSL code generator produces: kernels (source, named bindings,
 * grid) and the buffers they read and write. The executor, `moec test` and
 * the generated harness all consume these plain records.
 */
import type { DType, Op } from '../../compiler/ir.ts';
import type { Origin } from '../../compiler/spec.ts';

/** A buffer a kernel binds: an IR tensor, a gradient, or a kernel's own saved/scratch data. */
export interface BufferDecl {
  /** `x`, `grad/x`, `blocks.0.moe.experts/pre_up`. */
  readonly name: string;
  readonly elements: number;
  readonly dtype: DType;
  /**
   * tensor: an IR tensor. grad: the gradient of one (zeroed before each backward).
   * saved: written in forward, read in backward. scratch: temporary within one pass.
   * constant: data computed at compile time (`data`), uploaded once.
   */
  readonly kind: 'tensor' | 'grad' | 'saved' | 'scratch' | 'constant';
  readonly data?: Float32Array;
}

export interface KernelBinding {
  /** The WGSL variable name. */
  readonly name: string;
  /** The BufferDecl it binds. */
  readonly buffer: string;
  readonly access: 'read' | 'read_write';
}

export interface Kernel {
  /** Unique: `${op name}/${template}`. */
  readonly id: string;
  /** The template that produced it (`router`, `expert_up`, …): the kernel's name within its op. */
  readonly template: string;
  readonly op: string;
  readonly origin: Origin;
  readonly source: string;
  /** Bindings of group 0, in binding-index order. */
  readonly bindings: readonly KernelBinding[];
  readonly workgroups: readonly [number, number, number];
}

/** The kernels of one IR op. */
export interface OpKernels {
  readonly op: Op;
  readonly forward: readonly Kernel[];
  readonly backward: readonly Kernel[];
  /** Every buffer these kernels bind (tensors, gradients, saved and scratch data). */
  readonly buffers: readonly BufferDecl[];
}

/** Device facts kernels are specialised for. */
export interface Target {
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupStorageSize: number;
  /**
   * The GEMM tile (outputs per thread, and whether the workgroup stages its
   * operands) per kind of GEMM: each kind loads its operands differently, so
   * each has its own best tile. Chosen per adapter by measurement (`npm run
   * bench`).
   */
  readonly gemmTiles?: Partial<Record<GemmKind, GemmTile>>;
  /**
   * false: the benchmark's unfused baseline (permuted row copies, separate
   * activation passes, one output per thread, scalar loads). Default true.
   */
  readonly fusion?: boolean;
}

/**
 * Rows x columns of outputs per thread; a third number makes the GEMM
 * workgroup-tiled: each workgroup of 8x8 threads stages slices of that many
 * k of both operands in workgroup memory before computing from them
 * (`8x8/k16`). Without it, every thread reads its operands itself.
 */
export type GemmTile = readonly [number, number] | readonly [number, number, number];

/** The k-depth a workgroup-tiled GEMM stages, or undefined for a register-only tile. */
export function stagedDepth(tile: GemmTile): number | undefined {
  return tile[2];
}

/** `8x4`, or `8x8/k16` for a workgroup-tiled GEMM. */
export function tileLabel(tile: GemmTile): string {
  return `${tile[0]}x${tile[1]}${tile[2] ? `/k${tile[2]}` : ''}`;
}

/** Parses a tileLabel (`8x4`, `8x8/k16`); undefined when malformed. */
export function parseTile(label: string): GemmTile | undefined {
  const m = /^(\d+)x(\d+)(?:\/k(\d+))?$/.exec(label);
  if (!m) return undefined;
  const t = [Number(m[1]), Number(m[2]), ...(m[3] ? [Number(m[3])] : [])] as unknown as GemmTile;
  return validTile(t) ? t : undefined;
}

/**
 * Whether a tile can be generated: 1–16 outputs each way; a workgroup-tiled
 * one also needs its 8x8-thread block to be at most 64 wide each way and a
 * k-depth of 4–32 whose slices split evenly over the 64 threads.
 */
export function validTile(t: readonly number[]): t is GemmTile {
  if (!(t.length === 2 || t.length === 3) || !t.every((n) => Number.isInteger(n) && n > 0 && n <= 16)) return false;
  if (t.length === 2) return true;
  const [tm, tn, k] = t as [number, number, number];
  return tm <= 8 && tn <= 8 && k >= 4 && k <= 32 && (8 * tm * k) % 64 === 0 && (8 * tn * k) % 64 === 0;
}

/**
 * The three GEMM layouts of a linear layer, named for their role:
 * - forward: y = x·Wᵀ, both operands contiguous along the reduction;
 * - input_grad: dx = dy·W, B contiguous along the output's columns;
 * - weight_grad: dW = dyᵀ·x, both contiguous along the output (reduction over rows).
 */
export type GemmKind = 'forward' | 'input_grad' | 'weight_grad';

export const GEMM_KINDS: readonly GemmKind[] = ['forward', 'input_grad', 'weight_grad'];

/** The tile before any measurement: 4x4 is never far from the best on the adapters measured. */
export const DEFAULT_GEMM_TILE: GemmTile = [4, 4];

/** The tile a GEMM of this kind uses on `target` (one output per thread in the unfused baseline). */
export function gemmTile(target: Target, kind: GemmKind): GemmTile {
  if (target.fusion === false) return [1, 1];
  return target.gemmTiles?.[kind] ?? DEFAULT_GEMM_TILE;
}

/** The WebGPU minimums: what every adapter offers. */
export const DEFAULT_TARGET: Target = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
};

/** The name of a tensor's gradient buffer. */
export function gradName(tensor: string): string {
  return `grad/${tensor}`;
}
