/**
 * A checked spec: every setting resolved to a typed value with its default
 * filled in, plus the source line each came from (kernel headers and error
 * messages point back to it).
 */
import type { RoutingCore } from './routing_core.ts';
import type { Activation, RouterPreset } from './schema.ts';

/** Where a setting was written (1-based line; 0 when it is a default). */
export interface Origin {
  readonly line: number;
  /** The source line's text, trimmed (empty for defaults). */
  readonly text: string;
}

export interface FfnShape {
  readonly hidden: number;
  readonly activation: Activation;
}

export interface DenseFfnSpec extends FfnShape {
  readonly kind: 'dense';
  readonly origin: Origin;
}

export interface ExpertsSpec extends FfnShape {
  /** Routed experts after segmentation (count × segments). */
  readonly count: number;
  /** Hidden size after segmentation (hidden / segments). */
  readonly hidden: number;
  readonly segments: number;
  /** full: independent FFNs. ia3 / lora: adapters over one frozen base FFN of hidden `hidden × segments`. */
  readonly kind: 'full' | 'ia3' | 'lora';
  readonly rank: number;
  readonly alpha: number;
  readonly origin: Origin;
}

export interface SharedSpec extends FfnShape {
  readonly count: number;
  /** A per-token sigmoid gate on the shared output (Qwen-MoE), or none. */
  readonly gate: 'none' | 'sigmoid';
  readonly origin: Origin;
}

export interface MoeFfnSpec {
  readonly kind: 'moe';
  readonly every: number;
  readonly firstDense: number;
  /** The FFN of blocks that are not MoE. */
  readonly dense: FfnShape;
  readonly experts: ExpertsSpec;
  readonly shared: SharedSpec | null;
  /** The preset as written (for messages); the core is what gets lowered. */
  readonly preset: RouterPreset;
  readonly routing: RoutingCore;
  readonly routeOrigin: Origin;
  /** Where each key written inside `route { ... }` is (its own text, e.g. `top_k 2`), so ops cite the key that produced them. */
  readonly routeKeys: Readonly<Record<string, Origin>>;
  readonly origin: Origin;
}

export interface OptimizerSpec {
  readonly kind: 'adamw' | 'sgd';
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
}

export interface ScheduleSpec {
  readonly kind: 'cosine' | 'constant' | 'linear';
  readonly warmup: number;
  readonly minLr: number;
}

export interface TrainSpec {
  /** 'synthetic' or a file path (relative to the spec file's folder). */
  readonly data: { readonly kind: 'synthetic' } | { readonly kind: 'file'; readonly path: string };
  readonly batch: number;
  readonly steps: number;
  readonly accumulate: number;
  readonly optimizer: OptimizerSpec;
  readonly schedule: ScheduleSpec;
  readonly clip: number;
  readonly seed: number;
  readonly evalEvery: number;
  readonly checkpointEvery: number;
  readonly validation: number;
}

/** A whole checked spec. */
export interface ModelSpec {
  readonly name: string;
  readonly vocab: number;
  readonly context: number;
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly norm: 'rms' | 'layer';
  readonly position: 'learned' | 'rotary';
  readonly tieEmbeddings: boolean;
  readonly ffn: DenseFfnSpec | MoeFfnSpec;
  readonly train: TrainSpec;
  /** Where model-level keys were written (`model`, `vocab`, `heads`, …); absent keys map to the `model` line. */
  readonly origins: Readonly<Record<string, Origin>>;
  /** The spec's path and text, kept for checkpoints and kernel headers. */
  readonly source: { readonly path: string; readonly text: string };
}

/** Whether block b (0-based) of the model has an MoE feed-forward layer. */
export function isMoeBlock(spec: ModelSpec, b: number): boolean {
  const ffn = spec.ffn;
  if (ffn.kind !== 'moe') return false;
  return b >= ffn.firstDense && (b + 1) % ffn.every === 0;
}
