/**
 * A checked spec: every setting resolved to a typed value with its default
 * filled in, plus the source line each came from (kernel headers and error
 * messages point back to it).
 */
import { describeCore, type RoutingCore } from './routing_core.ts';
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
  /** The built-in synthetic corpus, the built-in real text, or a file path (relative to the spec file's folder). */
  readonly data: { readonly kind: 'synthetic' } | { readonly kind: 'moby_dick' } | { readonly kind: 'file'; readonly path: string };
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
  /**
   * The model's main FFN: its first MoE definition (else its dense one). Tools
   * that describe one layer use it; the layer of block b is `layers[b]`.
   */
  readonly ffn: DenseFfnSpec | MoeFfnSpec;
  /** Each block's FFN: dense, or an MoE layer (blocks may differ in experts and routing). */
  readonly layers: readonly (DenseFfnSpec | MoeFfnSpec)[];
  readonly train: TrainSpec;
  /** Where model-level keys were written (`model`, `vocab`, `heads`, …); absent keys map to the `model` line. */
  readonly origins: Readonly<Record<string, Origin>>;
  /** The spec's path and text, kept for checkpoints and kernel headers. */
  readonly source: { readonly path: string; readonly text: string };
}

/** Whether block b (0-based) of the model has an MoE feed-forward layer. */
export function isMoeBlock(spec: ModelSpec, b: number): boolean {
  return spec.layers[b]?.kind === 'moe';
}

/** The MoE layer of block b, if it has one. */
export function moeLayerOf(spec: ModelSpec, b: number): MoeFfnSpec | undefined {
  const layer = spec.layers[b];
  return layer?.kind === 'moe' ? layer : undefined;
}

/** The blocks with an MoE layer, in order. */
export function moeBlocks(spec: ModelSpec): number[] {
  return spec.layers.flatMap((l, b) => (l.kind === 'moe' ? [b] : []));
}

/** The routers of a model in words: `preset (core axes)` per distinct MoE layer, with its blocks when layers differ; `dense FFN` without one. */
export function routerSummary(spec: ModelSpec): string {
  const definitions = moeDefinitions(spec);
  if (!definitions.length) return 'dense FFN';
  return definitions
    .map(({ moe }) => {
      const blocks = spec.layers.flatMap((l, b) => (l === moe ? [b] : []));
      return `${definitions.length > 1 ? `blocks ${blocks.join(', ')}: ` : ''}${moe.preset} (${describeCore(moe.routing)})`;
    })
    .join('; ');
}

/** The least batch that every Mixture of Tokens layer's group divides (1 without one): groups take one token from each of G sequences. */
export function mixingBatch(spec: ModelSpec): number {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  return spec.layers.reduce((batch, l) => {
    const group = l.kind === 'moe' && l.routing.combine === 'mix' && typeof l.routing.group === 'number' ? l.routing.group : 1;
    return (batch * group) / gcd(batch, group);
  }, 1);
}

/** The distinct MoE layer definitions of a model, each with the first block that uses it. */
export function moeDefinitions(spec: ModelSpec): { readonly block: number; readonly moe: MoeFfnSpec }[] {
  const out: { block: number; moe: MoeFfnSpec }[] = [];
  spec.layers.forEach((l, block) => {
    if (l.kind === 'moe' && !out.some((o) => o.moe === l)) out.push({ block, moe: l });
  });
  return out;
}
