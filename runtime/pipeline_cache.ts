/**
 * Compiled pipelines keyed on the kernel's WGSL source: kernels specialised
 * for the same shapes compile once per device. Compilation errors become
 * KernelErrors naming the kernel and its spec line.
 */
import type { Kernel } from '../codegen/wgsl/kernel.ts';
import { kernelIdentity } from '../codegen/wgsl/kernel_dump.ts';
import { kernelError } from './gpu_errors.ts';
import { gpuWait } from './gpu_wait.ts';

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(
    private readonly device: GPUDevice,
    private readonly specPath: string,
  ) {}

  /** The pipeline of a kernel, compiled on first use. */
  get(kernel: Kernel): Promise<GPUComputePipeline> {
    // Kernels that differ only in comments (the same op in another block) share one pipeline.
    const key = kernelIdentity(kernel);
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.compile(kernel, key);
      this.pipelines.set(key, p);
    }
    return p;
  }

  get size(): number {
    return this.pipelines.size;
  }

  private async compile(kernel: Kernel, key: string): Promise<GPUComputePipeline> {
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: kernel.source, label: kernel.id });
    let pipeline: GPUComputePipeline | undefined;
    let thrown: unknown;
    try {
      // Synchronous creation: the async variant compiles on a Dawn worker thread, which on
      // lavapipe sometimes stalled for minutes when it overlapped running kernels.
      pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: kernel.id });
    } catch (e) {
      thrown = e;
    }
    const error = await gpuWait(device.popErrorScope());
    if (error || thrown || !pipeline) {
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
      const detail = [error?.message, thrown instanceof Error ? thrown.message : thrown ? String(thrown) : '', messages].filter(Boolean).join('\n');
      this.pipelines.delete(key);
      throw kernelError('compile', kernel.id, this.specPath, kernel.origin, { message: detail } as GPUError);
    }
    return pipeline;
  }
}

