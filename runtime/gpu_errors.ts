/**
 * Errors from the GPU, translated for people: which kernel, which spec line,
 * what went wrong in plain words. Raw WebGPU messages are kept only as a
 * `detail` for bug reports, never as the headline.
 */
import type { Origin } from '../compiler/spec.ts';

/** No usable WebGPU adapter on this machine. */
export class GpuUnavailableError extends Error {
  readonly hint = 'run `bash scripts/setup.sh` (as root it installs the Vulkan CPU driver; otherwise it prints the commands)';
  constructor(reason: string) {
    super(`no WebGPU adapter: ${reason}`);
    this.name = 'GpuUnavailableError';
  }
}

/** A kernel failed to compile, validate or run, or the device ran out of memory. */
export class KernelError extends Error {
  constructor(
    /** What failed, in words: "kernel blocks.0.moe.router/router failed to compile". */
    message: string,
    readonly kernel: string,
    readonly origin: Origin | undefined,
    readonly hint: string,
    /** The adapter's own message, for bug reports. */
    readonly detail: string,
  ) {
    super(message);
    this.name = 'KernelError';
  }
}

/** Where a kernel came from, for messages: "specs/switch.moe:8 (route token_choice { ... })". */
export function describeOrigin(specPath: string, origin: Origin | undefined): string {
  if (!origin || !origin.line) return specPath;
  return `${specPath}:${origin.line} (${origin.text.length > 60 ? `${origin.text.slice(0, 57)}...` : origin.text})`;
}

/** Classifies a WebGPU error into a KernelError with a hint. */
export function kernelError(stage: 'compile' | 'dispatch' | 'allocate', kernel: string, specPath: string, origin: Origin | undefined, error: GPUError): KernelError {
  const where = describeOrigin(specPath, origin);
  if (error instanceof GPUOutOfMemoryError || /out of memory/i.test(error.message)) {
    return new KernelError(`the GPU ran out of memory ${stage === 'allocate' ? 'allocating buffers for' : 'running'} ${kernel} (from ${where})`, kernel, origin, 'reduce batch, context, width or experts in the spec', error.message);
  }
  const what = stage === 'compile' ? 'failed to compile' : stage === 'allocate' ? 'could not get its buffers' : 'was rejected by the GPU';
  return new KernelError(`kernel ${kernel} (from ${where}) ${what}`, kernel, origin, 'this is a bug in moec\'s code generator; please report it with the spec (set MOEC_DEBUG=1 to see the adapter\'s message)', error.message);
}
