/**
 * Parameter and FLOP accounting from the IR, per layer and total, for
 * `moec info` and `moec compare` (FLOPs are forward; training ≈ 3×).
 */
import { numel, type Graph, type Tensor } from './ir.ts';
import { opFlops } from './ops/registry.ts';
import { moeBlocks, moeLayerOf, type ModelSpec, type MoeFfnSpec } from './spec.ts';

export interface LayerCost {
  /** `embed`, `blocks.3`, `head`. */
  readonly layer: string;
  readonly kind: string;
  readonly params: number;
  readonly activeParams: number;
  readonly flopsPerToken: number;
}

export interface ModelCost {
  readonly params: number;
  readonly trainableParams: number;
  readonly activeParams: number;
  readonly flopsPerToken: number;
  readonly layers: readonly LayerCost[];
}

/** Which layer a tensor or op belongs to, from its dotted name. */
function layerOf(name: string): string {
  const m = /^blocks\.(\d+)\./.exec(name);
  if (m) return `blocks.${m[1]}`;
  return name.startsWith('embed') || name.startsWith('pos') || name === 'tokens' || name === 'targets' ? 'embed' : 'head';
}

/**
 * Computing experts a token uses on average in one MoE layer: k, the
 * capacity factor, or all. With null experts, k of E + n picks land on the E
 * real ones in proportion (uniform routing); a cut can only lower it.
 */
export function expertsPerToken(layer: MoeFfnSpec): number {
  const core = layer.routing;
  const E = layer.experts.count;
  if (core.combine === 'mix' || core.select === 'all') return E;
  if (core.select === 'expert_choice') return Math.min(E, core.capacityFactor ?? 1);
  return (core.topK * E) / (E + core.nullExperts);
}

function isRoutedExpertParam(t: Tensor): boolean {
  return /\.moe\.experts\./.test(t.name) || /^experts\./.test(t.name);
}

/** Parameters, active parameters per token and FLOPs per token of a lowered model. */
export function modelCost(spec: ModelSpec, graph: Graph): ModelCost {
  const tokens = graph.batch * graph.seq;
  // The fraction of a block's routed-expert parameters a token uses (layer graphs: the first MoE block's).
  const activeFraction = (name: string): number => {
    const b = /^blocks\.(\d+)\./.exec(name);
    const layer = moeLayerOf(spec, b ? Number(b[1]) : (moeBlocks(spec)[0] ?? -1));
    return layer ? Math.min(1, expertsPerToken(layer) / layer.experts.count) : 1;
  };
  const layers = new Map<string, { kind: string; params: number; active: number; flops: number }>();
  const slot = (name: string) => {
    const key = layerOf(name);
    let l = layers.get(key);
    if (!l) {
      l = { kind: key === 'embed' ? 'embedding' : key === 'head' ? 'norm + LM head' : 'attention + dense FFN', params: 0, active: 0, flops: 0 };
      layers.set(key, l);
    }
    return l;
  };
  let params = 0;
  let trainable = 0;
  let active = 0;
  for (const t of graph.tensors.values()) {
    if (t.role !== 'param' && t.role !== 'frozen') continue;
    const count = numel(t.shape);
    const a = isRoutedExpertParam(t) ? count * activeFraction(t.name) : count;
    params += count;
    if (t.role === 'param') trainable += count;
    active += a;
    const l = slot(t.name);
    l.params += count;
    l.active += a;
  }
  let flops = 0;
  for (const op of graph.ops) {
    const f = opFlops(op, graph);
    flops += f;
    const l = slot(op.name);
    l.flops += f;
    if (op.name.includes('.moe.')) l.kind = 'attention + MoE';
  }
  const order = (k: string) => (k === 'embed' ? -1 : k === 'head' ? 1e9 : Number(k.split('.')[1]));
  return {
    params,
    trainableParams: trainable,
    activeParams: Math.round(active),
    flopsPerToken: flops / tokens,
    layers: [...layers.entries()]
      .sort((a, b) => order(a[0]) - order(b[0]))
      .map(([layer, l]) => ({ layer, kind: l.kind, params: l.params, activeParams: Math.round(l.active), flopsPerToken: l.flops / tokens })),
  };
}

/** 1234567 → "1.23M". */
export function humanCount(x: number): string {
  const abs = Math.abs(x);
  if (abs >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return String(Math.round(x));
}
