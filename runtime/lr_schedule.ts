/**
 * The learning-rate schedule: linear warm-up from 0 to the peak, then cosine,
 * linear or constant decay to `min_lr × peak` at the last step.
 */
import type { TrainSpec } from '../compiler/spec.ts';

/** Learning rate of optimizer step `step` (1-based) of `total`. */
export function learningRate(train: TrainSpec, step: number, total = train.steps): number {
  const peak = train.optimizer.lr;
  const { warmup, minLr, kind } = train.schedule;
  if (warmup > 0 && step <= warmup) return (peak * step) / warmup;
  if (kind === 'constant') return peak;
  const span = Math.max(1, total - warmup);
  const p = Math.min(1, Math.max(0, (step - warmup) / span));
  const floor = minLr * peak;
  if (kind === 'linear') return floor + (peak - floor) * (1 - p);
  return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
}
