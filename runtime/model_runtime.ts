/**
 * The runtime a generated harness (model.ts) drives: named buffers, kernels
 * loaded from WGSL files, and a command stream. Dispatches and buffer
 * clears are recorded into one command encoder and submitted together, so a
 * training step costs one submission per micro-batch and no host round trip;
 * a write from the host first submits what was recorded, keeping order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Init, TensorRole } from '../compiler/ir.ts';
import type { Origin } from '../compiler/spec.ts';
import type { Kernel } from '../codegen/wgsl/kernel.ts';
import { Executor, type HostArray } from './executor.ts';
import { sharedGpu, type Gpu } from './gpu.ts';
import { kernelError } from './gpu_errors.ts';
import { gpuWait } from './gpu_wait.ts';
import { initTensor } from './init.ts';

export type Workgroups = readonly [number, number, number];

/** What `DIR/manifest.json` records about each kernel file. */
export interface ManifestKernel {
  readonly id: string;
  readonly file: string;
  readonly origin: Origin;
}

/** What `DIR/manifest.json` holds (see codegen/harness/compile_output.ts). */
export interface Manifest {
  readonly spec: { readonly name: string; readonly path: string; readonly text: string };
  readonly parameters: readonly { name: string; shape: number[]; role: TensorRole; init?: Init }[];
  readonly buffers: readonly { name: string; elements: number; dtype: string; kind: string }[];
  readonly kernels: readonly ManifestKernel[];
  readonly constants?: Record<string, number[]>;
}

interface Pending {
  readonly pipeline: GPUComputePipeline;
  readonly kernel: Kernel;
}

export class ModelRuntime {
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private readonly compiled = new Map<string, GPUComputePipeline>();
  private readonly declared: { name: string; elements: number; dtype: 'f32' | 'i32'; kind: 'tensor' | 'grad' | 'saved' | 'scratch' }[] = [];
  readonly executor: Executor;
  private recorded: Pending[] = [];
  /** Compile-time data (rotary tables) uploaded by allocate(). */
  private readonly constants = new Map<string, Float32Array>();

  private constructor(
    readonly gpu: Gpu,
    /** Kernel id → WGSL source. */
    private readonly sources: ReadonlyMap<string, { source: string; origin: Origin }>,
    readonly specPath: string,
    /** The compiled model's manifest.json. */
    readonly manifest: Manifest,
  ) {
    this.executor = new Executor(gpu, specPath);
  }

  /** Writes the seeded initial value of every parameter, frozen weight and state tensor (docs/MODEL.md). */
  async initialize(seed: number): Promise<void> {
    for (const p of this.manifest.parameters) await this.write(p.name, initTensor({ ...p, dtype: 'f32' }, seed));
  }

  /** A runtime for the kernels a compiled model directory holds (`DIR/manifest.json`, `DIR/kernels/*.wgsl`). */
  static async open(dir: string, gpu?: Gpu): Promise<ModelRuntime> {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const sources = new Map<string, { source: string; origin: Origin }>();
    const files = new Map<string, string>();
    for (const k of manifest.kernels) {
      let source = files.get(k.file);
      if (source === undefined) {
        source = readFileSync(join(dir, 'kernels', k.file), 'utf8');
        files.set(k.file, source);
      }
      sources.set(k.id, { source, origin: k.origin });
    }
    const rt = new ModelRuntime(gpu ?? (await sharedGpu()), sources, manifest.spec.path, manifest);
    for (const [name, values] of Object.entries(manifest.constants ?? {})) rt.constants.set(name, Float32Array.from(values));
    return rt;
  }

  /**
   * A runtime for kernels held in memory (the browser playground compiles a
   * spec in the page: no files). `constants` are the plan's compile-time
   * tables (rotary), uploaded by allocate().
   */
  static fromSources(gpu: Gpu, sources: ReadonlyMap<string, { source: string; origin: Origin }>, manifest: Manifest): ModelRuntime {
    const rt = new ModelRuntime(gpu, sources, manifest.spec.path, manifest);
    for (const [name, values] of Object.entries(manifest.constants ?? {})) rt.constants.set(name, Float32Array.from(values));
    return rt;
  }

  /** Declares a buffer; `allocate` creates every declared buffer, zero-filled. */
  buffer(name: string, elements: number, dtype: 'f32' | 'i32' = 'f32', kind: 'tensor' | 'grad' | 'saved' | 'scratch' = 'tensor'): void {
    this.declared.push({ name, elements, dtype, kind });
  }

  /** Allocates the declared buffers and compiles the given kernels (in order). */
  async allocate(kernelIds: readonly string[]): Promise<void> {
    await this.executor.allocate(this.declared);
    for (const [name, data] of this.constants) this.executor.write(name, data);
    for (const id of kernelIds) {
      if (this.compiled.has(id)) continue;
      this.compiled.set(id, await this.executor.pipelines.get(this.kernel(id, [], [1, 1, 1])));
    }
  }

  private kernel(id: string, bindings: readonly string[], workgroups: Workgroups): Kernel {
    const s = this.sources.get(id);
    if (!s) throw new Error(`internal: the compiled model has no kernel ${id}`);
    const names = [...s.source.matchAll(/^@group\(0\) @binding\(\d+\) var<storage, (read|read_write)> (\w+)/gm)];
    return {
      id,
      template: id.split('/').at(-1) ?? id,
      op: id,
      origin: s.origin,
      source: s.source,
      bindings: bindings.map((buffer, i) => ({ name: names[i]?.[2] ?? `b${i}`, buffer, access: (names[i]?.[1] ?? 'read') as 'read' | 'read_write' })),
      workgroups,
    };
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) {
      this.gpu.device.pushErrorScope('validation');
      this.encoder = this.gpu.device.createCommandEncoder();
    }
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  /** Records a dispatch of kernel `id` with `bindings` (buffer names, in binding order). */
  dispatch(id: string, bindings: readonly string[], workgroups: Workgroups): void {
    const pipeline = this.compiled.get(id);
    if (!pipeline) throw new Error(`internal: kernel ${id} was not compiled in allocate()`);
    const kernel = this.kernel(id, bindings, workgroups);
    const pass = this.ensurePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.executor.bindGroupFor(kernel, pipeline));
    pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
    this.recorded.push({ pipeline, kernel });
  }

  /** Records zeroing of buffers (between dispatches, in order). */
  zero(names: readonly string[]): void {
    this.ensurePass();
    this.pass!.end();
    this.pass = undefined;
    for (const n of names) this.encoder!.clearBuffer(this.executor.gpuBuffer(n));
  }

  /** Submits what was recorded, without waiting. Validation errors name the first failing kernel. */
  async submit(): Promise<void> {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = undefined;
    this.gpu.device.queue.submit([this.encoder.finish()]);
    this.encoder = undefined;
    const recorded = this.recorded;
    this.recorded = [];
    const error = await gpuWait(this.gpu.device.popErrorScope());
    if (error) {
      const first = recorded[0]?.kernel;
      throw kernelError('dispatch', first?.id ?? 'a kernel', this.specPath, first?.origin, error);
    }
  }

  /** Uploads host data (after submitting what was recorded, so order is kept). */
  async write(name: string, data: HostArray): Promise<void> {
    await this.submit();
    this.executor.write(name, data);
  }

  /** Waits for the GPU, then reads buffers back (one copy and one map for all). */
  async read(names: readonly string[]): Promise<Map<string, HostArray>> {
    await this.submit();
    return this.executor.readMany(names);
  }
}
