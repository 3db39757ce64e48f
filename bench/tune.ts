/**
 * Tunes the GEMM tile of each kind (forward, input_grad, weight_grad) on
 * this adapter: one dense linear layer at the standard MoE layer's
 * up-projection shape, its three GEMM kernels generated once per candidate
 * tile, all timed on the same buffers in interleaved rounds (every
 * candidate once per round), so slow drifts of a shared machine hit every
 * candidate alike.
 */
import { generateGraph } from '../codegen/wgsl/generate.ts';
import { GEMM_KINDS, type GemmKind, type GemmTile, type Kernel } from '../codegen/wgsl/kernel.ts';
import type { Gpu } from '../runtime/gpu.ts';
import { gemmRunner } from './moec_layer.ts';
import { timeOnce, timing, type Timing } from './timing.ts';

/**
 * Candidates: rows x columns per thread, register-blocked (column counts of
 * 4·m let gradient GEMMs load 16 bytes at a time), and two workgroup-tiled
 * ones (32x32 and 64x64 blocks staged 16 and 8 k at a time), which real GPUs
 * tend to prefer and CPU adapters do not.
 */
export const TILE_CANDIDATES: readonly GemmTile[] = [[4, 4], [8, 4], [4, 8], [8, 8], [2, 8], [16, 8], [4, 4, 16], [8, 8, 8]];

/** The kernel template of each kind in a `linear` op. */
const TEMPLATE: Record<GemmKind, string> = { forward: 'matmul', input_grad: 'matmul_grad_input', weight_grad: 'matmul_grad_weight' };

export interface TileResult {
  readonly tile: GemmTile;
  readonly timing: Timing;
  readonly gflops: number;
}

export interface GemmTuning {
  /** Per kind, every candidate's timing. */
  readonly results: Record<GemmKind, TileResult[]>;
  /** Per kind, the candidate with the lowest median. */
  readonly best: Record<GemmKind, GemmTile>;
  readonly flops: number;
}

/** Times every candidate tile of every GEMM kind on x[M, K] · W[N, K]ᵀ. */
export async function tuneGemmTiles(gpu: Gpu, M: number, K: number, N: number, rounds: number, warmup = 2): Promise<GemmTuning> {
  const runner = await gemmRunner(gpu, M, K, N, { ...gpu.limits }, true);
  const graph = runner.graph;
  const flops = 2 * M * K * N;
  try {
    const kernels = TILE_CANDIDATES.map((tile) => {
      const plan = generateGraph(graph, { specPath: 'gemm', target: { ...gpu.limits, gemmTiles: { forward: tile, input_grad: tile, weight_grad: tile } } });
      const all = plan.ops.flatMap((k) => [...k.forward, ...k.backward]);
      return Object.fromEntries(GEMM_KINDS.map((kind) => [kind, all.find((k) => k.template === TEMPLATE[kind])])) as Record<GemmKind, Kernel | undefined>;
    });
    await runner.executor.prepare(kernels.flatMap((k) => Object.values(k).filter((x): x is Kernel => !!x)));
    const ms: Record<GemmKind, number[][]> = { forward: [], input_grad: [], weight_grad: [] };
    for (const kind of GEMM_KINDS) ms[kind] = TILE_CANDIDATES.map(() => []);
    for (let r = 0; r < warmup + rounds; r++) {
      for (const kind of GEMM_KINDS) {
        for (let c = 0; c < TILE_CANDIDATES.length; c++) {
          const k = kernels[c]![kind];
          if (!k) continue;
          const t = await timeOnce(async () => {
            await runner.executor.run([k]);
            await runner.executor.sync();
          });
          if (r >= warmup) ms[kind][c]!.push(t);
        }
      }
    }
    const results = {} as Record<GemmKind, TileResult[]>;
    const best = {} as Record<GemmKind, GemmTile>;
    for (const kind of GEMM_KINDS) {
      results[kind] = TILE_CANDIDATES.flatMap((tile, c) => {
        if (!ms[kind][c]!.length) return [];
        const t = timing(ms[kind][c]!);
        return [{ tile, timing: t, gflops: flops / t.median / 1e6 }];
      });
      best[kind] = results[kind].reduce((a, b) => (b.timing.median < a.timing.median ? b : a)).tile;
    }
    return { results, best, flops };
  } finally {
    runner.destroy();
  }
}
