/**
 * Runs generated kernels on a device: owns the buffers named by the code
 * generator, uploads and reads tensors, zeroes gradients, and dispatches
 * kernel lists in order inside error scopes. `moec test`, `moec layer` and
 * the generated harness all drive the GPU through this class.
 */
import type { BufferDecl, Kernel } from '../codegen/wgsl/kernel.ts';
import type { Gpu } from './gpu.ts';
import { kernelError } from './gpu_errors.ts';
import { gpuWait } from './gpu_wait.ts';
import { poolFor, type BufferPool } from './buffer_pool.ts';
import { PipelineCache } from './pipeline_cache.ts';

export type HostArray = Float32Array | Int32Array;

interface Slot {
  readonly decl: BufferDecl;
  readonly buffer: GPUBuffer;
  readonly bytes: number;
}

export class Executor {
  private readonly slots = new Map<string, Slot>();
  /** Per pipeline, bind groups by the buffers they bind. */
  private bindGroups = new WeakMap<GPUComputePipeline, Map<string, GPUBindGroup>>();
  readonly pipelines: PipelineCache;
  private readonly pool: BufferPool;

  constructor(
    readonly gpu: Gpu,
    /** Named in error messages. */
    readonly specPath: string,
  ) {
    this.pipelines = new PipelineCache(gpu.device, specPath);
    this.pool = poolFor(gpu.device);
  }

  /**
   * Creates every declared buffer not yet present, zero-filled, and uploads
   * constant data. An allocation the device cannot satisfy is a KernelError
   * naming the buffer.
   */
  async allocate(decls: readonly BufferDecl[]): Promise<void> {
    const device = this.gpu.device;
    const fresh: Slot[] = [];
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    for (const decl of decls) {
      if (this.slots.has(decl.name)) continue;
      const bytes = Math.max(4, decl.elements * 4);
      if (bytes > this.gpu.limits.maxStorageBufferBindingSize) {
        await device.popErrorScope();
        await device.popErrorScope();
        throw kernelError('allocate', decl.name, this.specPath, undefined, { message: `buffer ${decl.name} needs ${bytes} bytes; the device binds at most ${this.gpu.limits.maxStorageBufferBindingSize}` } as GPUError);
      }
      const buffer = this.pool.acquire(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, decl.name);
      const slot = { decl, buffer, bytes };
      this.slots.set(decl.name, slot);
      fresh.push(slot);
    }
    const invalid = await gpuWait(device.popErrorScope());
    const oom = await gpuWait(device.popErrorScope());
    const error = oom ?? invalid;
    if (error) throw kernelError('allocate', fresh.map((s) => s.decl.name).join(', '), this.specPath, undefined, error);
    // Pooled buffers come back dirty: every buffer starts at zero.
    const enc = device.createCommandEncoder();
    for (const s of fresh) enc.clearBuffer(s.buffer);
    device.queue.submit([enc.finish()]);
    for (const s of fresh) if (s.decl.data) device.queue.writeBuffer(s.buffer, 0, s.decl.data);
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  private slot(name: string): Slot {
    const s = this.slots.get(name);
    if (!s) throw new Error(`internal: no buffer named ${name}`);
    return s;
  }

  /** Uploads host data into a buffer (sizes must match). */
  write(name: string, data: HostArray): void {
    const s = this.slot(name);
    if (data.length !== s.decl.elements) throw new Error(`internal: ${name} holds ${s.decl.elements} elements, got ${data.length}`);
    if ((data instanceof Int32Array) !== (s.decl.dtype === 'i32')) throw new Error(`internal: ${name} is ${s.decl.dtype}`);
    this.gpu.device.queue.writeBuffer(this.slot(name).buffer, 0, data);
  }

  /** Sets every element of a float buffer to `value`. */
  fill(name: string, value: number): void {
    const s = this.slot(name);
    if (value === 0) {
      const enc = this.gpu.device.createCommandEncoder();
      enc.clearBuffer(s.buffer);
      this.gpu.device.queue.submit([enc.finish()]);
    } else {
      this.gpu.device.queue.writeBuffer(s.buffer, 0, new Float32Array(s.decl.elements).fill(value));
    }
  }

  /** Zeroes many buffers in one submission. */
  zero(names: readonly string[]): void {
    if (!names.length) return;
    const enc = this.gpu.device.createCommandEncoder();
    for (const n of names) enc.clearBuffer(this.slot(n).buffer);
    this.gpu.device.queue.submit([enc.finish()]);
  }

  /** The GPU buffer behind a name (for command encoders that clear or copy it). */
  gpuBuffer(name: string): GPUBuffer {
    return this.slot(name).buffer;
  }

  /** Reads several buffers with one copy and one mapping. */
  async readMany(names: readonly string[]): Promise<Map<string, HostArray>> {
    const device = this.gpu.device;
    const slots = names.map((n) => this.slot(n));
    const offsets: number[] = [];
    let total = 0;
    for (const s of slots) {
      offsets.push(total);
      total += s.decl.elements * 4;
    }
    const staging = this.pool.acquire(Math.max(4, total), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const enc = device.createCommandEncoder();
    slots.forEach((s, i) => {
      if (s.decl.elements) enc.copyBufferToBuffer(s.buffer, 0, staging, offsets[i]!, s.decl.elements * 4);
    });
    device.queue.submit([enc.finish()]);
    await gpuWait(staging.mapAsync(GPUMapMode.READ, 0, Math.max(4, total)));
    const mapped = staging.getMappedRange(0, Math.max(4, total));
    const out = new Map<string, HostArray>();
    slots.forEach((s, i) => {
      const bytes = mapped.slice(offsets[i]!, offsets[i]! + s.decl.elements * 4);
      out.set(names[i]!, s.decl.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes));
    });
    staging.unmap();
    this.pool.release(staging);
    return out;
  }

  /** Reads a buffer back to the host. */
  async read(name: string): Promise<HostArray> {
    return (await this.readMany([name])).get(name)!;
  }

  /** Compiles every kernel's pipeline ahead of time (errors surface here, named), one after another. */
  async prepare(kernels: readonly Kernel[]): Promise<void> {
    for (const k of kernels) await this.pipelines.get(k);
  }

  /**
   * Dispatches kernels in order in one compute pass (WebGPU orders storage
   * accesses between dispatches) and submits. Validation errors name the kernel.
   */
  async run(kernels: readonly Kernel[]): Promise<void> {
    if (!kernels.length) return;
    const device = this.gpu.device;
    const pipelines = await Promise.all(kernels.map((k) => this.pipelines.get(k)));
    device.pushErrorScope('validation');
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    kernels.forEach((k, i) => {
      pass.setPipeline(pipelines[i]!);
      pass.setBindGroup(0, this.bindGroupFor(k, pipelines[i]!));
      pass.dispatchWorkgroups(k.workgroups[0], k.workgroups[1], k.workgroups[2]);
    });
    pass.end();
    device.queue.submit([enc.finish()]);
    const error = await gpuWait(device.popErrorScope());
    if (error) {
      // Find the culprit by replaying one kernel at a time.
      for (const k of kernels) {
        device.pushErrorScope('validation');
        const e2 = device.createCommandEncoder();
        const p2 = e2.beginComputePass();
        const pipeline = await this.pipelines.get(k);
        p2.setPipeline(pipeline);
        p2.setBindGroup(0, this.bindGroupFor(k, pipeline));
        p2.dispatchWorkgroups(k.workgroups[0], k.workgroups[1], k.workgroups[2]);
        p2.end();
        device.queue.submit([e2.finish()]);
        const err = await device.popErrorScope();
        if (err) throw kernelError('dispatch', k.id, this.specPath, k.origin, err);
      }
      throw kernelError('dispatch', kernels[0]!.id, this.specPath, kernels[0]!.origin, error);
    }
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    await gpuWait(this.gpu.device.queue.onSubmittedWorkDone());
  }

  /** The bind group of a kernel's bindings for a pipeline (cached). */
  bindGroupFor(k: Kernel, pipeline: GPUComputePipeline): GPUBindGroup {
    let groups = this.bindGroups.get(pipeline);
    if (!groups) {
      groups = new Map();
      this.bindGroups.set(pipeline, groups);
    }
    const key = k.bindings.map((b) => b.buffer).join('\n');
    let g = groups.get(key);
    if (!g) {
      g = this.gpu.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: k.bindings.map((b, i) => ({ binding: i, resource: { buffer: this.slot(b.buffer).buffer } })),
        label: k.id,
      });
      groups.set(key, g);
    }
    return g;
  }

  /** Returns every buffer to the device's pool. */
  destroy(): void {
    for (const s of this.slots.values()) this.pool.release(s.buffer);
    this.slots.clear();
    this.bindGroups = new WeakMap();
  }
}
