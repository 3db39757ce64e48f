/**
 * Waiting for the GPU without stealing its CPU. Dawn's Node binding polls
 * continuously while a GPU promise is pending, which on a CPU adapter
 * (lavapipe) takes most of a core from the threads doing the work. Sleeping
 * briefly between polls (Atomics.wait) and yielding once to the event loop
 * (so Dawn can deliver the callback) measured ~1.7x faster on 2 cores.
 * Browsers forbid blocking the main thread, so there it is a plain await.
 */
const canBlock = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const cell = canBlock ? new Int32Array(new SharedArrayBuffer(4)) : undefined;

/** Resolves like `promise`, polling gently until it settles. */
export async function gpuWait<T>(promise: Promise<T>): Promise<T> {
  if (!cell) return promise;
  let settled = false;
  const done = () => {
    settled = true;
  };
  promise.then(done, done);
  while (!settled) {
    Atomics.wait(cell, 0, 0, 0.5);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return promise;
}
