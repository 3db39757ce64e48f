/**
 * The MoE layers the benchmark measures, as specs: the standard top-2
 * layer (2,048 tokens, width 256, 8 experts of hidden 1,024, ReLU) and its
 * variants, plus the scaling series.
 */
export interface BenchLayer {
  readonly name: string;
  /** What the layer is, for tables (default: the name). */
  readonly label?: string;
  readonly spec: string;
  readonly batch: number;
  readonly seq: number;
}

function layer(name: string, ffn: string, batch: number, seq: number, width = 256): BenchLayer {
  return { name, batch, seq, spec: `model ${name} { width ${width} heads 4 depth 1 context ${seq}\n  ffn moe {\n    ${ffn}\n  }\n}\ntrain { batch ${batch} }\n` };
}

export const STANDARD = layer('top2', 'experts 8 { hidden 1024 activation relu }\n    route token_choice { top_k 2 capacity none }', 8, 256);

export const LAYERS: readonly BenchLayer[] = [
  STANDARD,
  layer('fine_grained', 'experts 64 { hidden 128 activation relu }\n    shared 2 { hidden 128 }\n    route token_choice { top_k 8 capacity none }', 8, 256),
  layer('expert_choice', 'experts 8 { hidden 1024 activation relu }\n    route expert_choice { capacity_factor 2 }', 8, 256),
  layer('mixture_of_tokens', 'experts 8 { hidden 1024 activation relu }\n    route mixture_of_tokens { group 32 }', 32, 64),
  layer('soft_moe', 'experts 8 { hidden 1024 activation relu }\n    route soft { slots 1 }', 8, 256),
];

/**
 * Routing primitives on the fine-grained layer (64 experts, top-8, 2 shared):
 * what each costs over plain top-8, everything else equal.
 */
export const ROUTING_VARIANTS: readonly BenchLayer[] = [
  ['top8_plain', 'plain top-8', 'top_k 8 capacity none'],
  ['top8_group_limited', 'group-limited (8 groups, keep 4, sum_top2)', 'top_k 8 groups 8 top_groups 4 group_score sum_top2 capacity none'],
  ['top8_top_p', 'top-p 0.5 (at most 8)', 'top_k 8 top_p 0.5 capacity none'],
  ['top8_null_experts', '4 null experts', 'top_k 8 null_experts 4 capacity none'],
  ['top8_drop_by_probability', 'capacity 1.25 by probability per sequence', 'top_k 8 capacity_factor 1.25 drop_policy by_probability capacity_scope sequence'],
].map(([name, label, route]) => ({ ...layer(name!, `experts 64 { hidden 128 activation relu }\n    shared 2 { hidden 128 }\n    route token_choice { ${route} }`, 8, 256), label: label! }));

/** Experts 8 → 64 at a fixed top_k × hidden (the same FLOPs per token). */
export const EXPERT_SCALING: readonly BenchLayer[] = [
  [8, 2, 1024],
  [16, 4, 512],
  [32, 8, 256],
  [64, 16, 128],
].map(([e, k, h]) => layer(`experts_${e}`, `experts ${e} { hidden ${h} activation relu }\n    route token_choice { top_k ${k} capacity none }`, 8, 256));

/** Tokens 512 → 8,192 for the standard layer. */
export const TOKEN_SCALING: readonly BenchLayer[] = [2, 4, 8, 16, 32].map((b) => ({ ...STANDARD, name: `tokens_${b * 256}`, batch: b, spec: STANDARD.spec.replace('batch 8', `batch ${b}`) }));
