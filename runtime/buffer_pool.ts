/**
 * Reuses GPU buffers by size class and usage, so repeated executors (one per
 * `moec test` scenario, per evaluation, per readback) do not allocate and
 * free device memory every time. Sizes round up to a power of two (at
 * least 256 bytes); released buffers wait for the next request of their class.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private live = 0;

  constructor(private readonly device: GPUDevice) {}

  private static sizeClass(bytes: number): number {
    return Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
  }

  /** A buffer of at least `bytes` with exactly `usage`. Contents are unspecified. */
  acquire(bytes: number, usage: number, label?: string): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const key = `${size}:${usage}`;
    const reused = this.free.get(key)?.pop();
    this.live++;
    if (reused) return reused;
    return this.device.createBuffer({ size, usage, ...(label ? { label } : {}) });
  }

  /** Returns a buffer for reuse. */
  release(buffer: GPUBuffer): void {
    const key = `${buffer.size}:${buffer.usage}`;
    let list = this.free.get(key);
    if (!list) {
      list = [];
      this.free.set(key, list);
    }
    list.push(buffer);
    this.live--;
  }

  /** Buffers handed out and not yet released. */
  get inUse(): number {
    return this.live;
  }

  /** Frees every pooled buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}

const pools = new WeakMap<GPUDevice, BufferPool>();

/** The pool of a device (one per device). */
export function poolFor(device: GPUDevice): BufferPool {
  let p = pools.get(device);
  if (!p) {
    p = new BufferPool(device);
    pools.set(device, p);
  }
  return p;
}
