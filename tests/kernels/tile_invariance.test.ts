/**
 * GEMM tiles are tuned per adapter and per GEMM kind (npm run bench), so they
 * must change speed only: every output sums over k in the same order, one
 * fma per k, whatever the tile or the loads (vec4 or scalar), so a model's
 * outputs and gradients are bit-identical across tiles — and equal to the
 * unfused baseline's the benchmark compares against. Workgroup-tiled GEMMs
 * (operands staged in workgroup memory) are held to the same.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { lowerModel } from '../../compiler/lower.ts';
import type { GemmKind, GemmTile, Target } from '../../codegen/wgsl/kernel.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { GraphRunner } from '../../runtime/graph_runner.ts';
import { randomValues } from '../../runtime/test_scenarios.ts';

/**
 * Every tile shape the tuner may pick appears at least once, register-blocked
 * and workgroup-tiled, each GEMM kind with a different tile in one run (they
 * are tuned separately). Not every shape for every kind: each choice compiles
 * all of the model's GEMMs anew, which is most of this test's time.
 */
const CHOICES: Record<GemmKind, GemmTile>[] = [
  { forward: [8, 4], input_grad: [8, 8], weight_grad: [16, 8] },
  { forward: [4, 4], input_grad: [4, 4], weight_grad: [4, 4] },
  { forward: [2, 8], input_grad: [4, 8], weight_grad: [8, 4] },
  // Workgroup-tiled: k-slices staged in workgroup memory, deeper or shallower than the reductions.
  { forward: [4, 4, 16], input_grad: [8, 8, 8], weight_grad: [2, 8, 32] },
  { forward: [8, 8, 8], input_grad: [8, 4, 4], weight_grad: [4, 4, 16] },
];

const label = (t: Record<GemmKind, GemmTile>) => `forward ${t.forward.join('x')}, input_grad ${t.input_grad.join('x')}, weight_grad ${t.weight_grad.join('x')}`;

// One test per tile choice (each with its own hang guard), every one compared with the first.
describe('GEMM tile and load layout do not change a single bit of outputs or gradients, fused or unfused', () => {
  // deepseekmoe with one block (attention, routed swiglu experts, shared experts) and the LM head:
  // every kind of GEMM the compiler emits, each compiled once per tile choice.
  const text = readFileSync('specs/deepseekmoe.moe', 'utf8').replace('depth 3', 'depth 1').replace('first_dense 1', 'first_dense 0');
  const { spec } = checkSpec(text, 'specs/deepseekmoe.moe');
  const graph = lowerModel(spec!, { batch: 4, seq: 16 });
  let baseline: Buffer[] | undefined;

  async function run(target: (limits: Target) => Target): Promise<Buffer[]> {
    const gpu = await sharedGpu();
    const r = await GraphRunner.create(gpu, graph, 'specs/deepseekmoe.moe', target({ ...gpu.limits }));
    try {
      r.setValues(randomValues(graph, 1, spec!.vocab));
      await r.forward();
      await r.backward(new Map());
      const tensors = [await r.read('logits'), await r.readGrad('embed.weight'), await r.readGrad('blocks.0.moe.experts.up.weight'), await r.readGrad('blocks.0.moe.shared.down.weight'), await r.readGrad('blocks.0.attn.qkv.weight')];
      return tensors.map((t) => Buffer.from(t.buffer));
    } finally {
      r.destroy();
    }
  }

  const cases: [string, (limits: Target) => Target][] = [
    ...CHOICES.map((gemmTiles): [string, (l: Target) => Target] => [label(gemmTiles), (l) => ({ ...l, gemmTiles })]),
    // The unfused baseline: scalar loads, one output per thread, a permuted copy of the rows.
    ['the unfused baseline', (l) => ({ ...l, fusion: false })],
  ];
  for (const [name, target] of cases) {
    it(name, async () => {
      const got = await run(target);
      if (!baseline) {
        baseline = got;
        return;
      }
      got.forEach((b, i) => expect(Buffer.compare(b, baseline![i]!), `tensor ${i} differs from ${cases[0]![0]}`).toBe(0));
    });
  }
});
