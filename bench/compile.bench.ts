/**
 * `npm run bench:compile`: how long check + lower take per shipped spec,
 * after start-up (warm-up runs discarded; median of 20). Goal: < 50 ms each.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { compileSpec } from '../compiler/compile.ts';

const GOAL_MS = 50;
const files = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();
const rows: { spec: string; median: number; min: number; max: number }[] = [];
for (const f of files) {
  const path = `specs/${f}`;
  const text = readFileSync(path, 'utf8');
  for (let i = 0; i < 5; i++) compileSpec(text, path);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const r = compileSpec(text, path);
    times.push(performance.now() - t0);
    if (!r.graph) throw new Error(`${path} did not compile`);
  }
  times.sort((a, b) => a - b);
  rows.push({ spec: f, median: times[10]!, min: times[0]!, max: times.at(-1)! });
}
console.log('| spec | check + lower, median ms | min–max ms | goal |');
console.log('|---|---:|---:|---|');
for (const r of rows) console.log(`| ${r.spec} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)}–${r.max.toFixed(2)} | ${r.median < GOAL_MS ? 'met' : `MISSED (< ${GOAL_MS} ms)`} |`);
