// A/B timing of bench layers in the current working directory's moec.
const root = process.cwd();
const { sharedGpu } = await import(`${root}/runtime/gpu.ts`);
const { targetFor } = await import(`${root}/runtime/tuning.ts`);
const { LAYERS } = await import(`${root}/bench/layers.ts`);
const { prepareLayer } = await import(`${root}/bench/moec_layer.ts`);
const gpu = await sharedGpu();
const target = targetFor(gpu);
const names = process.argv.slice(2);
const out: Record<string, { f: number; t: number }> = {};
for (const name of names) {
  const layer = LAYERS.find((l: any) => l.name === name);
  const run = await prepareLayer(gpu, layer, target);
  const fs: number[] = [], ts: number[] = [];
  for (let r = 0; r < 7; r++) {
    let t0 = performance.now(); await run.forward(); const f = performance.now() - t0;
    t0 = performance.now(); await run.train(); const t = performance.now() - t0;
    if (r >= 2) { fs.push(f); ts.push(t); }
  }
  const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
  out[name] = { f: med(fs), t: med(ts) };
  run.destroy();
}
console.log(JSON.stringify(out));
process.exit(0);
