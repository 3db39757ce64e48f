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
  /** The template that produced it (`router`, `expert_up`, …), as listed in compiler/ir_ops.ts. */
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
  /** Outputs per thread of the register-blocked GEMMs (rows, columns); chosen per adapter by bench/tune. */
  readonly gemmTile?: readonly [number, number];
  /**
   * false: the benchmark's unfused baseline (permuted row copies, separate
   * activation passes, one output per thread, scalar loads). Default true.
   */
  readonly fusion?: boolean;
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
