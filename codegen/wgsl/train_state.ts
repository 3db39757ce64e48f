/**
 * The `train/state` buffer: a few per-step scalars shared by the host and
 * the kernels. The host writes the learning rate, bias corrections, step and
 * mode before each step; the GPU writes the gradient norm, clip scale and
 * skip flag. No host round trip is needed inside a step.
 */
export const STATE = {
  /** Learning rate of this step (host). */
  lr: 0,
  /** 1 − β1^t and 1 − β2^t (host). */
  correction1: 1,
  correction2: 2,
  /** Global gradient norm before clipping (GPU). */
  gradNorm: 3,
  /** Factor applied to every gradient (GPU). */
  clipScale: 4,
  /** 1 when the norm was not finite and the update was skipped (GPU). */
  skipped: 5,
  /** Optimizer step, from 1 (host): seeds router jitter. */
  step: 6,
  /** 1 in a training step, 0 in evaluation (host): jitter only trains. */
  training: 7,
  size: 8,
} as const;

export const STATE_BUFFER = 'train/state';
