/**
 * Times one MoE layer built from moec's generated kernels (fused, or the
 * unfused baseline) forward and forward+backward, and a plain GEMM at the
 * layer's expert shape (the adapter's ceiling for moec's kernels).
 */
import { checkSpec } from '../compiler/compile.ts';
import { GraphBuilder } from '../compiler/graph_builder.ts';
import { OPS } from '../compiler/ir_ops.ts';
import { lowerMoeBlock } from '../compiler/lower.ts';
import type { Target } from '../codegen/wgsl/kernel.ts';
import type { Gpu } from '../runtime/gpu.ts';
import { GraphRunner } from '../runtime/graph_runner.ts';
import { Rng } from '../runtime/rng.ts';
import { randomValues } from '../runtime/test_scenarios.ts';
import type { BenchLayer } from './layers.ts';
import { time, type Timing } from './timing.ts';

export interface LayerTiming {
  readonly forward: Timing;
  readonly train: Timing;
  /** Forward FLOPs spent in the expert (and shared-expert) FFNs. */
  readonly expertFlops: number;
  readonly tokens: number;
}

export async function timeLayer(gpu: Gpu, layer: BenchLayer, target: Target, runs = 5): Promise<LayerTiming> {
  const { spec } = checkSpec(layer.spec, `${layer.name}.moe`);
  if (!spec) throw new Error(`bench layer ${layer.name} does not check`);
  const graph = lowerMoeBlock(spec, { batch: layer.batch, seq: layer.seq });
  const runner = await GraphRunner.create(gpu, graph, `${layer.name}.moe`, target);
  try {
    runner.setValues(randomValues(graph, 1, spec.vocab));
    const n = graph.batch * graph.seq * spec.width;
    const rng = new Rng(2);
    const dy = Float32Array.from({ length: n }, () => rng.normal());
    const forward = await time(async () => {
      await runner.forward();
      await runner.executor.sync();
    }, runs);
    const train = await time(async () => {
      await runner.forward();
      await runner.backward(new Map([[graph.output, dy]]));
      await runner.executor.sync();
    }, runs);
    const expertFlops = graph.ops.filter((o) => o.kind === 'expert_ffn' || o.kind === 'ffn').reduce((a, o) => a + OPS[o.kind].flops(o, graph), 0);
    return { forward, train, expertFlops, tokens: graph.batch * graph.seq };
  } finally {
    runner.destroy();
  }
}

/** A dense [M, K] · [N, K]ᵀ matmul with moec's kernel at `target`'s tile: the ceiling of moec's GEMMs. */
export async function timeGemm(gpu: Gpu, M: number, K: number, N: number, target: Target, runs = 5): Promise<{ timing: Timing; flops: number }> {
  const g = new GraphBuilder();
  const x = g.tensor('x', [M, K], 'f32', 'input');
  const w = g.tensor('w', [N, K], 'f32', 'param', { kind: 'normal', std: 0.05 });
  const y = g.tensor('y', [M, N], 'f32', 'activation');
  g.op('linear', 'gemm', { x, weight: w }, { y }, {}, { line: 0, text: '' });
  const graph = g.build('layer', 'gemm', 1, M, y);
  const runner = await GraphRunner.create(gpu, graph, 'gemm', target);
  try {
    runner.setValues(randomValues(graph, 3, 2));
    const timing = await time(async () => {
      await runner.forward();
      await runner.executor.sync();
    }, runs);
    return { timing, flops: 2 * M * K * N };
  } finally {
    runner.destroy();
  }
}
