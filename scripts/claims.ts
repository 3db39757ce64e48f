/**
 * The numbers behind docs/RESULTS.md, from the output folder of
 *   moec compare specs/budget/switch.moe specs/budget/<others>.moe --match flops --seeds 3 --out DIR
 * (several folders may be given: a spec's runs are read from the first that
 * has them). For each published claim: the final validation losses (mean ±
 * sd over seeds), their paired difference and verdict (report/seed_statistics.ts),
 * and how many steps a model takes to reach another's final validation
 * loss (interpolated between evaluations), per seed.
 *
 *   npx tsx scripts/claims.ts DIR [DIR ...]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareSeeds, describeDifference, formatSpread, spread } from '../report/seed_statistics.ts';

interface Step {
  readonly step: number;
  readonly valLoss?: number;
}

const dirs = process.argv.slice(2);
if (!dirs.length) {
  console.error('usage: npx tsx scripts/claims.ts COMPARE_OUTPUT_DIR [...]');
  process.exit(2);
}

interface Run {
  readonly seed: number;
  readonly steps: Step[];
}

/** Every seed's metrics of one compared spec, in seed order. */
function runsOf(name: string): Run[] {
  for (const dir of dirs) {
    const specDir = join(dir, name);
    if (!existsSync(specDir)) continue;
    const seeds = readdirSync(specDir).filter((f) => /^seed-\d+$/.test(f)).map((f) => Number(f.slice(5))).sort((a, b) => a - b);
    return seeds.map((seed) => ({ seed, steps: readFileSync(join(specDir, `seed-${seed}`, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Step) }));
  }
  return [];
}

const finalVal = (runs: readonly Run[]) => spread(runs.map((r) => r.steps.at(-1)!.valLoss!));

/** The step at which a run's validation loss first reaches `target` (linear between evaluations), or Infinity. */
function stepsTo(run: Step[], target: number): number {
  const pts = run.filter((m) => m.valLoss !== undefined);
  for (let i = 0; i < pts.length; i++) {
    if (pts[i]!.valLoss! > target) continue;
    if (i === 0) return pts[0]!.step;
    const a = pts[i - 1]!;
    const b = pts[i]!;
    return a.step + ((a.valLoss! - target) / (a.valLoss! - b.valLoss!)) * (b.step - a.step);
  }
  return Number.POSITIVE_INFINITY;
}

const CLAIMS: readonly { claim: string; a: string; b: string }[] = [
  { claim: 'Switch (top-1) vs dense at equal FLOPs', a: 'switch', b: 'dense' },
  { claim: 'top-2 vs dense at equal FLOPs', a: 'top2', b: 'dense' },
  { claim: 'Mixture of Tokens vs dense', a: 'mixture_of_tokens', b: 'dense' },
  { claim: 'expert choice vs top-1 token choice', a: 'expert_choice', b: 'switch' },
  { claim: 'expert choice vs top-2 token choice', a: 'expert_choice', b: 'top2' },
  { claim: 'fine-grained + shared vs top-2 at equal compute', a: 'fine_grained', b: 'top2' },
  { claim: 'fine-grained + shared vs top-1 at equal compute', a: 'fine_grained', b: 'switch' },
  { claim: 'fine-grained + shared (top-3) vs dense at equal FLOPs', a: 'fine_grained', b: 'dense' },
];

for (const { claim, a, b } of CLAIMS) {
  const ra = runsOf(a);
  const rb = runsOf(b);
  const complete = (runs: readonly Run[]) => runs.length > 0 && runs.every((r) => r.steps.at(-1)?.valLoss !== undefined);
  if (!complete(ra) || !complete(rb)) {
    if (ra.length || rb.length) console.log(`## ${claim}\n  (runs of ${a} or ${b} missing or still training)`);
    continue;
  }
  const fa = finalVal(ra);
  const fb = finalVal(rb);
  const steps = rb.at(-1)!.steps.at(-1)!.step;
  console.log(`## ${claim}`);
  console.log(`  ${a}: final validation loss ${formatSpread(fa)}; ${b}: ${formatSpread(fb)}`);
  // Runs of the same seed saw the same data, so the verdict pairs them, over the seeds both specs ran.
  const common = ra.filter((r) => rb.some((q) => q.seed === r.seed)).map((r) => r.seed);
  const on = (runs: readonly Run[]) => (common.length >= 2 ? runs.filter((r) => common.includes(r.seed)) : runs);
  const verdict = describeDifference(a, b, compareSeeds(finalVal(on(ra)), finalVal(on(rb))));
  const dropped = common.length >= 2 && (common.length < ra.length || common.length < rb.length);
  console.log(`  ${verdict}${dropped ? ` (over the seeds both ran: ${common.join(', ')})` : ''}`);
  const reach = ra.map((r) => stepsTo(r.steps, fb.mean));
  console.log(`  ${a} reaches ${b}'s final ${fb.mean.toFixed(4)} at step ${reach.map((s) => (Number.isFinite(s) ? s.toFixed(0) : 'never')).join(', ')} of ${steps} (per seed)`);
}
