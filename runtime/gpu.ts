/**
 * WebGPU device acquisition behind one interface: Dawn through the `webgpu`
 * npm package in Node, `navigator.gpu` in a browser. The device is created
 * with the adapter's own limits (never assumed defaults), which the code
 * generator reads to size kernels.
 */
import { GpuUnavailableError } from './gpu_errors.ts';

/** The limits kernels are generated against. */
export interface GpuLimits {
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupsPerDimension: number;
}

/** A WebGPU device ready for moec's kernels. */
export interface Gpu {
  readonly device: GPUDevice;
  readonly limits: GpuLimits;
  /** "vendor architecture device" as the adapter reports it. */
  readonly adapterName: string;
  /** Keeps Dawn's instance alive as long as the device is used. */
  readonly instance: unknown;
}

const LIMIT_NAMES: (keyof GpuLimits)[] = [
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
];

let nodeGpu: Promise<GPU> | undefined;

/** Whether this is Node (else a browser page or worker). */
const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** `navigator.gpu` in a browser page or worker; Dawn's in Node (loaded once per process). */
async function gpuEntry(): Promise<GPU> {
  if (!inNode) {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) throw new GpuUnavailableError('this browser has no WebGPU (navigator.gpu is missing)');
    return gpu;
  }
  nodeGpu ??= (async () => {
    let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
    try {
      mod = (await import('webgpu')) as typeof mod;
    } catch (e) {
      throw new GpuUnavailableError(`the \`webgpu\` package could not be loaded (${e instanceof Error ? e.message : String(e)})`);
    }
    Object.assign(globalThis, mod.globals);
    return mod.create([]);
  })();
  return nodeGpu;
}

/**
 * Creates a device with the adapter's limits. Throws GpuUnavailableError
 * (with a set-up hint) when there is no adapter.
 */
export async function acquireGpu(): Promise<Gpu> {
  const entry = await gpuEntry();
  const adapter = await entry.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new GpuUnavailableError(inNode ? 'Dawn found none (no GPU driver, and no Vulkan CPU driver such as Mesa lavapipe)' : 'the browser offers none (WebGPU disabled, or no usable GPU)');
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredLimits });
  device.addEventListener('uncapturederror', (ev) => {
    // Every dispatch runs inside an error scope; anything that escapes is a bug worth seeing.
    const message = `moec: unexpected WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`;
    if (inNode) process.stderr.write(`${message}\n`);
    else console.error(message);
  });
  const limits = Object.fromEntries(LIMIT_NAMES.map((n) => [n, device.limits[n]])) as unknown as GpuLimits;
  const info = adapter.info;
  const adapterName = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  return { device, limits, adapterName, instance: entry };
}

let shared: Promise<Gpu> | undefined;

/** One device per process, created on first use (tests and commands share it). */
export function sharedGpu(): Promise<Gpu> {
  shared ??= acquireGpu();
  return shared;
}
