/**
 * Times one MoE layer built from moec's generated kernels (fused, or the
 * unfused baseline) forward and forward+backward, and a plain GEMM at the
 * layer's expert shape (the adapter's ceiling for moec's kernels).
 */
import { checkSpec } from '../compiler/compile.ts';
import { GraphBuilder } from '../compiler/graph_builder.ts';
import type { Graph } from '../compiler/ir.ts';
import { opFlops } from '../compiler/ops/registry.ts';
import { lowerMoeBlock } from '../compiler/lower.ts';
import type { Target } from '../codegen/wgsl/kernel.ts';
import type { Gpu } from '../runtime/gpu.ts';
import { GraphRunner } from '../runtime/graph_runner.ts';
import { Rng } from '../runtime/rng.ts';
import { randomValues } from '../runtime/test_scenarios.ts';
import type { BenchLayer } from './layers.ts';
import { time, timeOnce, timing, type Timing } from './timing.ts';

export interface LayerTiming {
  readonly forward: Timing;
  readonly train: Timing;
  /** Forward FLOPs spent in the expert (and shared-expert) FFNs. */
  readonly expertFlops: number;
  readonly tokens: number;
  /**
   * With a ceiling: the layer's expert GFLOP/s over the ceiling GEMMs',
   * each round's ratio from runs next to each other, then the median
   * (forward; forward+backward counted as 3× the forward FLOPs).
   */
  readonly ofCeiling?: { readonly forward: number; readonly train: number; readonly ceiling: Timing };
}

/** The dense GEMMs a layer is measured against, run in the same rounds as the layer. */
export interface Ceiling {
  run(): Promise<void>;
  readonly flops: number;
  destroy(): void;
}

/** One benchmark layer, compiled and filled with values, ready to run. */
export interface LayerRun {
  readonly graph: Graph;
  readonly runner: GraphRunner;
  forward(): Promise<void>;
  train(): Promise<void>;
  readonly expertFlops: number;
  readonly tokens: number;
  destroy(): void;
}

/** Compiles a benchmark layer on `target` and fills it with seeded values. */
export async function prepareLayer(gpu: Gpu, layer: BenchLayer, target: Target): Promise<LayerRun> {
  const { spec } = checkSpec(layer.spec, `${layer.name}.moe`);
  if (!spec) throw new Error(`bench layer ${layer.name} does not check`);
  const graph = lowerMoeBlock(spec, { batch: layer.batch, seq: layer.seq });
  const runner = await GraphRunner.create(gpu, graph, `${layer.name}.moe`, target);
  runner.setValues(randomValues(graph, 1, spec.vocab));
  const rng = new Rng(2);
  const dy = Float32Array.from({ length: graph.batch * graph.seq * spec.width }, () => rng.normal());
  return {
    graph,
    runner,
    expertFlops: graph.ops.filter((o) => o.kind === 'expert_ffn' || o.kind === 'ffn').reduce((a, o) => a + opFlops(o, graph), 0),
    tokens: graph.batch * graph.seq,
    async forward() {
      await runner.forward();
      await runner.executor.sync();
    },
    async train() {
      await runner.forward();
      await runner.backward(new Map([[graph.output, dy]]));
      await runner.executor.sync();
    },
    destroy: () => runner.destroy(),
  };
}

export async function timeLayer(gpu: Gpu, layer: BenchLayer, target: Target, runs = 5, ceiling?: Ceiling): Promise<LayerTiming> {
  const run = await prepareLayer(gpu, layer, target);
  try {
    const forwardOnce = () => run.forward();
    const trainOnce = () => run.train();
    const { expertFlops, tokens } = run;
    if (!ceiling) return { forward: await time(forwardOnce, runs), train: await time(trainOnce, runs), expertFlops, tokens };
    // Rounds of ceiling, forward, ceiling, forward+backward: each ratio compares runs seconds apart.
    const ms = { ceiling: [] as number[], forward: [] as number[], train: [] as number[] };
    const fRatio: number[] = [];
    const tRatio: number[] = [];
    for (let r = 0; r < runs + 2; r++) {
      const c1 = await timeOnce(() => ceiling.run());
      const f = await timeOnce(forwardOnce);
      const c2 = await timeOnce(() => ceiling.run());
      const t = await timeOnce(trainOnce);
      if (r < 2) continue; // warm-up rounds
      ms.ceiling.push(c1, c2);
      ms.forward.push(f);
      ms.train.push(t);
      fRatio.push((expertFlops / f) / (ceiling.flops / c1));
      tRatio.push((3 * expertFlops / t) / (ceiling.flops / c2));
    }
    return {
      forward: timing(ms.forward),
      train: timing(ms.train),
      expertFlops,
      tokens,
      ofCeiling: { forward: timing(fRatio).median, train: timing(tRatio).median, ceiling: timing(ms.ceiling) },
    };
  } finally {
    run.destroy();
  }
}

/**
 * Forward (or forward+backward) times of several layers measured in
 * interleaved rounds (each layer once per round, after one warm-up round),
 * and each layer's per-round time per token relative to the first layer's:
 * series compare runs seconds apart rather than minutes.
 */
export async function timeSeries(runs: readonly LayerRun[], rounds: number, pass: 'forward' | 'train' = 'forward'): Promise<{ forward: Timing; relative: number }[]> {
  const ms: number[][] = runs.map(() => []);
  for (let r = 0; r < rounds + 1; r++) {
    const round = [];
    for (const run of runs) round.push(await timeOnce(() => (pass === 'forward' ? run.forward() : run.train())));
    if (r > 0) round.forEach((t, i) => ms[i]!.push(t));
  }
  return runs.map((run, i) => ({
    forward: timing(ms[i]!),
    relative: timing(ms[i]!.map((t, r) => t / run.tokens / (ms[0]![r]! / runs[0]!.tokens))).median,
  }));
}

/** The standard layer's two expert GEMM shapes (up: [rows, d]·[d, H], down: [rows, H]·[H, d]) as one ceiling. */
export async function gemmCeiling(gpu: Gpu, rows: number, d: number, H: number, target: Target): Promise<Ceiling> {
  const up = await gemmRunner(gpu, rows, d, H, target);
  const down = await gemmRunner(gpu, rows, H, d, target);
  return {
    flops: 2 * 2 * rows * d * H,
    async run() {
      await up.forward();
      await down.forward();
      await down.executor.sync();
    },
    destroy() {
      up.destroy();
      down.destroy();
    },
  };
}

/**
 * A graph of one dense linear layer, x[M, K] · W[N, K]ᵀ, compiled for
 * `target` and filled with seeded values. With `inputGradient`, x is a
 * parameter, so the graph also has an input-gradient GEMM.
 */
export async function gemmRunner(gpu: Gpu, M: number, K: number, N: number, target: Target, inputGradient = false): Promise<GraphRunner> {
  const g = new GraphBuilder();
  const x = inputGradient ? g.tensor('x', [M, K], 'f32', 'param', { kind: 'normal', std: 1 }) : g.tensor('x', [M, K], 'f32', 'input');
  const w = g.tensor('w', [N, K], 'f32', 'param', { kind: 'normal', std: 0.05 });
  const y = g.tensor('y', [M, N], 'f32', 'activation');
  g.op('linear', 'gemm', { x, weight: w }, { y }, {}, { line: 0, text: '' });
  const graph = g.build('layer', 'gemm', 1, M, y);
  const runner = await GraphRunner.create(gpu, graph, 'gemm', target);
  runner.setValues(randomValues(graph, 3, 2));
  return runner;
}
