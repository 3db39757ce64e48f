import { readFileSync } from 'node:fs';
import { checkSpec } from '/work/main/compiler/compile.ts';
import { lowerModel } from '/work/main/compiler/lower.ts';
import { generateGraph } from '/work/main/codegen/wgsl/generate.ts';
import { DEFAULT_TARGET } from '/work/main/codegen/wgsl/kernel.ts';
import { kernelIdentity } from '/work/main/codegen/wgsl/kernel_dump.ts';
import { sharedGpu } from '/work/main/runtime/gpu.ts';
const path = process.argv[2]!;
const tile = JSON.parse(process.argv[3] ?? '[4,4]');
const { spec } = checkSpec(readFileSync(path, 'utf8'), path);
const graph = lowerModel(spec!, { batch: 4, seq: 16 });
const gpu = await sharedGpu();
const plan = generateGraph(graph, { specPath: path, target: { ...DEFAULT_TARGET, ...gpu.limits, gemmTiles: { forward: tile, input_grad: tile, weight_grad: tile } } as any });
const seen = new Map<string, any>();
for (const o of [...plan.ops, ...plan.stateUpdates]) for (const k of [...o.forward, ...o.backward]) if (!seen.has(kernelIdentity(k))) seen.set(kernelIdentity(k), k);
const rows: [number, string, number][] = [];
let total = 0;
for (const k of seen.values()) {
  const t0 = performance.now();
  const m = gpu.device.createShaderModule({ code: k.source });
  await gpu.device.createComputePipelineAsync({ layout: 'auto', compute: { module: m, entryPoint: 'main' } });
  const dt = performance.now() - t0; total += dt;
  rows.push([dt, k.id, k.source.length]);
}
rows.sort((a, b) => b[0] - a[0]);
console.log('unique kernels', seen.size, 'total ms', total.toFixed(0));
for (const r of rows.slice(0, 25)) console.log(r[0].toFixed(0).padStart(7), r[2], r[1]);
process.exit(0);
