/**
 * `npm run bench`: one run, one adapter, everything side by side — the GEMM
 * ceiling, moec's MoE layers (fused and unfused) forward and
 * forward+backward, TensorFlow.js on the same adapter, training throughput of
 * every shipped spec, scaling in experts and tokens, and the PyTorch export
 * of the same layers and specs on this CPU. Prints markdown and
 * writes bench/results.json. Tunes the GEMM tile first and caches it.
 *
 *   npm run bench               # everything (~15 min on 2 CPU cores)
 *   npm run bench -- --quick    # fewer repetitions
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { checkSpec } from '../compiler/compile.ts';
import { GEMM_KINDS, tileLabel, type GemmKind, type Target } from '../codegen/wgsl/kernel.ts';
import { sharedGpu } from '../runtime/gpu.ts';
import { saveTuning } from '../runtime/tuning.ts';
import { EXPERT_SCALING, LAYERS, ROUTING_VARIANTS, STANDARD, TOKEN_SCALING } from './layers.ts';
import { gemmCeiling, prepareLayer, timeLayer, timeSeries, type LayerTiming } from './moec_layer.ts';
import { timePytorch } from './pytorch_export.ts';
import { timeSampling, type SamplingSpeed } from './sampling.ts';
import { timeTfLayer } from './tfjs_layer.ts';
import { fmtMs, time } from './timing.ts';
import { timeTrainStep } from './train_throughput.ts';
import { TILE_CANDIDATES, tuneGemmTiles } from './tune.ts';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 7;
const out: Record<string, unknown> = {};
const lines: string[] = [];
const say = (s = '') => {
  lines.push(s);
  process.stdout.write(`${s}\n`);
};
const gflops = (flops: number, ms: number) => flops / ms / 1e6;

const gpu = await sharedGpu();
out.adapter = gpu.adapterName;
out.date = new Date().toISOString();
say(`# moec benchmark — ${gpu.adapterName}`);
say(`${out.date as string}, node ${process.version}, ${quick ? 'quick' : 'full'} mode; times in ms: median (min–max) of ${RUNS} runs after 2 warm-ups`);

// 1. Tune the tile of each GEMM kind on the standard layer's up-projection shape.
const { spec: standard } = checkSpec(STANDARD.spec, 'top2.moe');
const rows = STANDARD.batch * STANDARD.seq * 2;
const H = standard!.ffn.kind === 'moe' ? standard!.ffn.experts.hidden : 0;
const tuning = await tuneGemmTiles(gpu, rows, 256, H, RUNS);
say(`\n## GEMM tiles (tuned on this adapter, ${rows}x256 · 256x${H}; interleaved rounds)\n`);
say(`| tile (rows x cols per thread) | ${GEMM_KINDS.map((k) => `${k} ms (GFLOP/s)`).join(' | ')} |`);
say(`|---|${GEMM_KINDS.map(() => '---:').join('|')}|`);
for (const [c, tile] of TILE_CANDIDATES.entries()) {
  const cells = GEMM_KINDS.map((kind) => {
    const r = tuning.results[kind][c];
    if (!r) return '';
    const mark = r.tile === tuning.best[kind] ? '**' : '';
    return `${mark}${fmtMs(r.timing)} (${r.gflops.toFixed(2)})${mark}`;
  });
  say(`| ${tileLabel(tile)} | ${cells.join(' | ')} |`);
}
const candidates = Object.fromEntries(GEMM_KINDS.map((k) => [k, Object.fromEntries(tuning.results[k].map((r) => [tileLabel(r.tile), r.gflops]))]));
saveTuning(gpu.adapterName, { gemmTiles: tuning.best, measuredAt: out.date as string, candidates });
const target: Target = { ...gpu.limits, gemmTiles: tuning.best };
const unfused: Target = { ...gpu.limits, fusion: false };
out.tuning = { best: tuning.best, candidates };
const bestOf = (kind: GemmKind) => Math.max(...tuning.results[kind].map((r) => r.gflops));

// 2. The ceiling: moec's best matmul at the layer's two expert shapes (also run beside each layer below).
const ceilingGemms = await gemmCeiling(gpu, rows, 256, H, target);
const ceilingTiming = await time(() => ceilingGemms.run(), RUNS);
const ceiling = gflops(ceilingGemms.flops, ceilingTiming.median);
out.ceiling = { timing: ceilingTiming, gflops: ceiling, inputGradBest: bestOf('input_grad'), weightGradBest: bestOf('weight_grad') };
say(`\nGEMM ceiling (forward tile ${tileLabel(tuning.best.forward)}, y = x·Wᵀ at up ${rows}x256·256x${H} and down ${rows}x${H}·${H}x256): **${ceiling.toFixed(2)} GFLOP/s**`);
say(`Best gradient GEMMs at the up shape, for comparison: input_grad ${bestOf('input_grad').toFixed(2)}, weight_grad ${bestOf('weight_grad').toFixed(2)} GFLOP/s.`);

// 3. MoE layers, fused and unfused. "% of ceiling" compares each layer run with ceiling GEMM runs in the same rounds.
say('\n## MoE layers (2,048 tokens)\n');
say('% of ceiling: the layer\'s expert GFLOP/s over the ceiling GEMMs\' in interleaved rounds (median of per-round ratios); the ceiling column is the GEMMs\' GFLOP/s in those rounds.\n');
say('| layer | fused forward | fused fwd+bwd | expert GFLOP/s fwd (fwd+bwd) | % of ceiling fwd (fwd+bwd) | ceiling GFLOP/s in those rounds | unfused forward | unfused fwd+bwd | fused speed-up fwd (fwd+bwd) |');
say('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
const layerResults: Record<string, { fused: LayerTiming; unfused: LayerTiming }> = {};
for (const layer of LAYERS) {
  const fused = await timeLayer(gpu, layer, target, RUNS, ceilingGemms);
  const base = await timeLayer(gpu, layer, unfused, quick ? 1 : 3);
  layerResults[layer.name] = { fused, unfused: base };
  const gf = gflops(fused.expertFlops, fused.forward.median);
  const gt = gflops(3 * fused.expertFlops, fused.train.median);
  const c = fused.ofCeiling!;
  say(`| ${layer.name} | ${fmtMs(fused.forward)} | ${fmtMs(fused.train)} | ${gf.toFixed(2)} (${gt.toFixed(2)}) | ${(100 * c.forward).toFixed(0)}% (${(100 * c.train).toFixed(0)}%) | ${gflops(ceilingGemms.flops, c.ceiling.median).toFixed(2)} | ${fmtMs(base.forward)} | ${fmtMs(base.train)} | ${(base.forward.median / fused.forward.median).toFixed(2)}x (${(base.train.median / fused.train.median).toFixed(2)}x) |`);
}
ceilingGemms.destroy();
out.layers = layerResults;

// 4. TensorFlow.js, same adapter, the standard layer.
say('\n## TensorFlow.js (WebGPU backend, same adapter), standard top-2 layer\n');
try {
  const tf = await timeTfLayer(gpu, { tokens: STANDARD.batch * STANDARD.seq, width: 256, experts: 8, hidden: H, topK: 2 }, RUNS);
  const ours = layerResults.top2!.fused;
  out.tfjs = tf;
  say('| | forward | fwd+bwd |');
  say('|---|---:|---:|');
  say(`| TensorFlow.js | ${fmtMs(tf.forward)} | ${fmtMs(tf.train)} |`);
  say(`| moec | ${fmtMs(ours.forward)} | ${fmtMs(ours.train)} |`);
  say(`| moec speed-up | ${(tf.forward.median / ours.forward.median).toFixed(2)}x | ${(tf.train.median / ours.train.median).toFixed(2)}x |`);
} catch (e) {
  out.tfjs = { error: String(e) };
  say(`TensorFlow.js could not run here: ${e instanceof Error ? e.message : String(e)}`);
}

// 5. Scaling.
say('\n## Time per token as experts grow at fixed top_k x hidden (forward)\n');
say('All four layers run in interleaved rounds; "vs 8 experts" is the median of per-round ratios of time per token.\n');
say('| experts | top_k x hidden | forward ms | µs/token | vs 8 experts |');
say('|---:|---|---:|---:|---:|');
const scaling: Record<string, { usPerToken: number; relative: number }> = {};
const expertRuns = await Promise.all(EXPERT_SCALING.map((l) => prepareLayer(gpu, l, target)));
const expertSeries = await timeSeries(expertRuns, RUNS);
expertRuns.forEach((run, i) => {
  const layer = EXPERT_SCALING[i]!;
  const { forward, relative } = expertSeries[i]!;
  const perToken = (forward.median * 1000) / run.tokens;
  scaling[layer.name] = { usPerToken: perToken, relative };
  const m = /experts (\d+) \{ hidden (\d+)[^]*top_k (\d+)/.exec(layer.spec)!;
  say(`| ${m[1]} | ${m[3]} x ${m[2]} | ${fmtMs(forward)} | ${perToken.toFixed(2)} | ${relative.toFixed(2)}x |`);
  run.destroy();
});
out.expertScaling = scaling;
say('\n## Time as tokens grow, standard layer (forward)\n');
say('Interleaved rounds as above; "vs 512 tokens" compares time per token.\n');
say('| tokens | forward ms | µs/token | vs 512 tokens |');
say('|---:|---:|---:|---:|');
const tokenScaling: Record<string, { ms: number; relative: number }> = {};
const tokenRuns = await Promise.all(TOKEN_SCALING.map((l) => prepareLayer(gpu, l, target)));
const tokenSeries = await timeSeries(tokenRuns, quick ? 2 : 3);
tokenRuns.forEach((run, i) => {
  const { forward, relative } = tokenSeries[i]!;
  tokenScaling[String(run.tokens)] = { ms: forward.median, relative };
  say(`| ${run.tokens} | ${fmtMs(forward)} | ${((forward.median * 1000) / run.tokens).toFixed(2)} | ${relative.toFixed(2)}x |`);
  run.destroy();
});
out.tokenScaling = tokenScaling;

// 5b. Routing primitives on the fine-grained layer, against plain top-8 in the same rounds.
say('\n## Routing primitives on the fine-grained layer (64 experts, top-8, 2 shared)\n');
say('Interleaved rounds; "vs plain top-8" is the median of per-round time ratios. The targets: group-limited top-8 at most 10% over plain top-8.\n');
say('| routing | forward ms | vs plain top-8 | fwd+bwd ms | vs plain top-8 |');
say('|---|---:|---:|---:|---:|');
const primitiveRuns = await Promise.all(ROUTING_VARIANTS.map((l) => prepareLayer(gpu, l, target)));
const primitiveForward = await timeSeries(primitiveRuns, RUNS, 'forward');
const primitiveTrain = await timeSeries(primitiveRuns, quick ? 2 : RUNS, 'train');
const primitives: Record<string, { forward: number; train: number }> = {};
primitiveRuns.forEach((run, i) => {
  const f = primitiveForward[i]!;
  const t = primitiveTrain[i]!;
  primitives[ROUTING_VARIANTS[i]!.name] = { forward: f.relative, train: t.relative };
  say(`| ${ROUTING_VARIANTS[i]!.label} | ${fmtMs(f.forward)} | ${f.relative.toFixed(2)}x | ${fmtMs(t.forward)} | ${t.relative.toFixed(2)}x |`);
  run.destroy();
});
out.routingPrimitives = primitives;

// 6. Training throughput of every shipped spec.
say('\n## Training throughput (full step: forward, backward, optimizer)\n');
say('| spec | step ms | tokens/s |');
say('|---|---:|---:|');
const throughput: Record<string, number> = {};
for (const f of readdirSync('specs').filter((x) => x.endsWith('.moe')).sort()) {
  const r = await timeTrainStep(gpu, `specs/${f}`, target, quick ? 2 : 3);
  throughput[f] = (r.tokensPerStep * 1000) / r.step.median;
  say(`| ${f} | ${fmtMs(r.step)} | ${Math.round(throughput[f]!)} |`);
}
out.trainThroughput = throughput;

// 6b. Sampling with and without the key/value cache.
say('\n## Sampling (moec sample): bytes/s per sequence, whole window re-run per byte vs key/value cache\n');
say('| spec | context | window (no cache) | cache | speed-up |');
say('|---|---:|---:|---:|---:|');
const sampling: Record<string, SamplingSpeed> = {};
for (const [f, context] of [['switch.moe', 64], ['switch.moe', 256], ['deepseekmoe.moe', 64], ['deepseekmoe.moe', 256]] as const) {
  const r = await timeSampling(gpu, `specs/${f}`, target, context, quick ? 8 : 16, quick ? 40 : 80);
  sampling[`${f} context ${context}`] = r;
  say(`| ${f} | ${context} | ${r.window.toFixed(1)} | ${r.cache.toFixed(1)} | ${(r.cache / r.window).toFixed(1)}x |`);
}
out.sampling = sampling;

// 7. The PyTorch export of the same layers and specs, on this machine's CPU, in the same run.
say('\n## The PyTorch export on this CPU (moec export --target pytorch), beside moec on WebGPU\n');
try {
  const specFiles = Object.keys(throughput).map((f) => `specs/${f}`);
  const torch = timePytorch(LAYERS, specFiles, RUNS);
  out.pytorch = torch;
  say(`PyTorch ${torch.torch}, ${torch.threads} CPU threads; moec columns are the fused figures above (this adapter).\n`);
  say('| layer | moec forward | PyTorch forward | moec fwd+bwd | PyTorch fwd+bwd |');
  say('|---|---:|---:|---:|---:|');
  for (const l of LAYERS) {
    const m = layerResults[l.name]!.fused;
    const t = torch.layers[l.name]!;
    say(`| ${l.name} | ${fmtMs(m.forward)} | ${fmtMs(t.forward)} | ${fmtMs(m.train)} | ${fmtMs(t.train)} |`);
  }
  say('\n| spec | moec training tokens/s | PyTorch training tokens/s |');
  say('|---|---:|---:|');
  for (const f of Object.keys(throughput)) {
    const t = torch.train[`specs/${f}`]!;
    say(`| ${f} | ${Math.round(throughput[f]!)} | ${Math.round((t.tokens * 1000) / t.step.median)} |`);
  }
} catch (e) {
  out.pytorch = { error: String(e) };
  say(`The PyTorch export could not be timed here: ${e instanceof Error ? e.message : String(e)}`);
}

writeFileSync('bench/results.json', `${JSON.stringify(out, null, 1)}\n`);
writeFileSync('bench/results.md', `${lines.join('\n')}\n`);
say('\nwrote bench/results.json and bench/results.md');
process.exit(0);
