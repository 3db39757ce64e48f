/**
 * `npm run bench:profile -- <layer> [--unfused] [--runs N] [--tile RxC or RxC/kD (every kind)] [--only TEXT]`: times every
 * kernel of one benchmark layer on its own (forward and backward), so a
 * slow layer can be traced to the kernel that makes it slow. Each kernel is
 * dispatched alone, waited for, and timed after warm-ups; GEMMs also show
 * GFLOP/s. Layers: the names in bench/layers.ts (top2, fine_grained, …).
 */
import { GEMM_KINDS, gemmTile, parseTile, tileLabel, type Kernel, type Target } from '../codegen/wgsl/kernel.ts';
import { sharedGpu } from '../runtime/gpu.ts';
import { targetFor } from '../runtime/tuning.ts';
import { EXPERT_SCALING, LAYERS, ROUTING_VARIANTS, TOKEN_SCALING } from './layers.ts';
import { prepareLayer } from './moec_layer.ts';
import { fmtMs, time, type Timing } from './timing.ts';

const args = process.argv.slice(2);
const flag = (f: string) => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);
const name = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const all = [...LAYERS, ...EXPERT_SCALING, ...TOKEN_SCALING, ...ROUTING_VARIANTS];
const layer = all.find((l) => l.name === name);
const tileArg = flag('--tile');
const runs = Number(flag('--runs') ?? 5);
const tile = tileArg === undefined ? undefined : parseTile(tileArg);
if (!layer || (tileArg !== undefined && !tile) || !(runs >= 1)) {
  process.stderr.write(`usage: npm run bench:profile -- <layer> [--unfused] [--runs N] [--tile RxC or RxC/kD (every kind)] [--only TEXT]\nlayers: ${all.map((l) => l.name).join(', ')}\n`);
  process.exit(2);
}
const only = flag('--only');

const gpu = await sharedGpu();
const tuned = targetFor(gpu);
const target: Target = args.includes('--unfused') ? { ...tuned, fusion: false } : tile ? { ...tuned, gemmTiles: { forward: tile, input_grad: tile, weight_grad: tile } } : tuned;
const layerRun = await prepareLayer(gpu, layer, target);
const { graph, runner } = layerRun;
// One real pass each way so saved tensors, routing tables and gradients hold realistic values.
await layerRun.train();

/** FLOPs of a GEMM kernel, from the shapes of the layer (expert FFNs only; others print none). */
function gemmFlops(k: Kernel): number | undefined {
  const op = graph.ops.find((o) => o.name === k.op);
  if (!op || (op.kind !== 'expert_ffn' && op.kind !== 'ffn')) return undefined;
  const [K, H, d] = graph.tensors.get(op.inputs.up!)!.shape as [number, number, number];
  const rows = op.kind === 'ffn' ? graph.batch * graph.seq : Number(op.attrs.rows);
  const hidden = op.kind === 'ffn' ? K * H : H;
  const gated = op.inputs.gate ? 2 : 1;
  const perRow: Record<string, number> = { up: gated * d * hidden, down: d * hidden, down_grad_hidden: d * hidden, down_grad_weight: d * hidden, up_grad_input: gated * d * hidden, up_grad_weight: d * hidden, gate_grad_weight: d * hidden };
  const t = k.template.replace(/^(expert|ffn)_/, '');
  return perRow[t] === undefined ? undefined : 2 * rows * perRow[t]!;
}

process.stdout.write(`# ${layer.name} on ${gpu.adapterName}, tiles ${GEMM_KINDS.map((k) => `${k} ${tileLabel(gemmTile(target, k))}`).join(', ')}${target.fusion === false ? ', unfused' : ''}; ms median (min–max) of ${runs}\n\n`);
process.stdout.write('| pass | kernel | workgroups | ms | GFLOP/s |\n|---|---|---:|---:|---:|\n');
const totals = { forward: 0, backward: 0 };
for (const pass of ['forward', 'backward'] as const) {
  const kernels = pass === 'forward' ? runner.plan.ops.flatMap((k) => k.forward) : [...runner.plan.ops].reverse().flatMap((k) => k.backward);
  for (const k of kernels) {
    if (only && !k.id.includes(only)) continue;
    const t: Timing = await time(async () => {
      await runner.executor.run([k]);
      await runner.executor.sync();
    }, runs);
    totals[pass] += t.median;
    const f = gemmFlops(k);
    process.stdout.write(`| ${pass} | ${k.id} | ${k.workgroups.join('x')} | ${fmtMs(t)} | ${f === undefined ? '' : (f / t.median / 1e6).toFixed(2)} |\n`);
  }
}
process.stdout.write(`\nsum of kernel medians: forward ${totals.forward.toFixed(1)} ms, backward ${totals.backward.toFixed(1)} ms\n`);
layerRun.destroy();
