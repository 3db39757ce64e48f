/**
 * `moec compare A.moe B.moe …`: trains each spec on the same data for the
 * same number of training tokens — optionally at equal active FLOPs per
 * token or equal parameters (`--match`), over several seeds (`--seeds`) —
 * and says which differences are beyond seed noise, in the terminal and in
 * one comparison report.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkSpec } from '../compiler/compile.ts';
import { routerSummary, type ModelSpec } from '../compiler/spec.ts';
import { bestVal, writeCompareReport, type ComparedSpec, type SeedRun } from '../report/compare_report.ts';
import { compareSeeds, describeDifference, formatSpread, spread } from '../report/seed_statistics.ts';
import { readMetrics } from '../report/train_report.ts';
import { costOf, matchBudget, type MatchBy } from './budget_match.ts';
import { MOBY_DICK } from '../runtime/data/moby_dick.ts';
import { dataSourceFor, runTraining } from './train_command.ts';
import { requireSpec } from './load_spec.ts';
import { UserError } from './user_error.ts';

export interface CompareOptions {
  steps?: number;
  out: string;
  data?: string;
  seed: number;
  seeds: number;
  match: string;
  resume?: boolean;
}

const MATCHES: readonly MatchBy[] = ['none', 'flops', 'params'];

/** The --data every run gets: the option, else the first spec's data (so every model sees the same text). */
function sharedData(first: ModelSpec, data: string | undefined): string {
  if (data !== undefined) return data;
  const d = first.train.data;
  return d.kind === 'file' ? resolve(first.source.path, '..', d.path) : d.kind === MOBY_DICK ? MOBY_DICK : 'synthetic';
}

/**
 * Trains every spec at the first one's token budget (matched by `--match`),
 * `--seeds` times each, on the same data, into OUT/<name>[/seed-N]; prints
 * each run's cost, each spec's final and best validation loss, and whether
 * it differs from the best beyond seed noise; writes OUT/compare.html.
 */
export async function compareCommand(paths: string[], opts: CompareOptions): Promise<void> {
  if (paths.length < 2) throw new UserError('compare needs at least two specs', 'e.g. moec compare specs/switch.moe specs/dense.moe specs/mixture_of_tokens.moe');
  if (!MATCHES.includes(opts.match as MatchBy)) throw new UserError(`unknown --match ${opts.match}`, 'none (the specs as written), flops (equal forward FLOPs per token) or params (equal total parameters)', 2);
  const match = opts.match as MatchBy;
  const specs = paths.map((p) => requireSpec(p));
  const names = specs.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UserError(`two specs are both named \`${dup}\``, 'give each model its own name: their runs go to DIR/<name>');
  const first = specs[0]!;
  const budget = (opts.steps ?? first.train.steps) * first.train.batch * first.context * first.train.accumulate;
  const outDir = resolve(opts.out);
  const data = sharedData(first, opts.data);
  const seeds = Array.from({ length: opts.seeds }, (_, i) => opts.seed + i);

  // Budgets first, so a spec that cannot be matched stops the command before any training.
  const matched = specs.map((s) => matchBudget(first, s, match));
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say(`budget: ${budget} training tokens per run of ${dataSourceFor(first, data).description}; ${match === 'none' ? 'models as written (--match none)' : `hidden sizes scaled to ${first.name}'s ${match === 'flops' ? 'forward FLOPs per token' : 'parameters'} (--match ${match})`}; seeds ${seeds.join(', ')}`);
  const costs = matched.map((m) => costOf(m.spec));
  for (const [i, m] of matched.entries()) {
    const c = costs[i]!;
    const scaled = m.factor !== 1 ? `, hidden sizes x${m.factor.toFixed(3)} (${match} ${(100 * (m.ratio - 1)).toFixed(1)}% from ${first.name}'s)` : '';
    say(`  ${m.spec.name.padEnd(24)} ${fmtCount(c.params)} parameters, ${fmtCount(c.activeParams)} active per token, ${(c.flopsPerToken / 1e6).toFixed(3)} MFLOP/token${scaled}`);
    if (m.factor < 0.25 || m.factor > 4) say(`  ${''.padEnd(24)} warning: hidden sizes scaled by ${m.factor.toFixed(2)}: far from the spec as written`);
  }
  const flops = costs.map((c) => c.flopsPerToken);
  if (match === 'none' && Math.max(...flops) / Math.min(...flops) > 1.1) say(`  note: FLOPs per token differ up to ${(Math.max(...flops) / Math.min(...flops)).toFixed(2)}x; --match flops compares at equal compute`);

  const compared: ComparedSpec[] = [];
  for (const [i, m] of matched.entries()) {
    let spec = m.spec;
    const specDir = join(outDir, spec.name);
    if (m.factor !== 1) {
      // The scaled spec is a file of its own, so its runs resume and reproduce like any other.
      mkdirSync(specDir, { recursive: true });
      const path = join(specDir, 'spec.moe');
      writeFileSync(path, `# ${spec.name} from ${resolve(specs[i]!.source.path)}, FFN hidden sizes x${m.factor.toFixed(4)} to match ${first.name}'s ${match} (moec compare --match ${match})\n${spec.source.text}`);
      spec = checkSpec(readFileSync(path, 'utf8'), path).spec!;
    }
    const runs: SeedRun[] = [];
    for (const seed of seeds) {
      const s: ModelSpec = { ...spec, train: { ...spec.train, seed } };
      const steps = Math.max(1, Math.round(budget / (s.train.batch * s.context * s.train.accumulate)));
      const dir = seeds.length > 1 ? join(specDir, `seed-${seed}`) : specDir;
      const label = seeds.length > 1 ? `${s.name} seed ${seed}` : s.name;
      const result = await runTraining(s, dir, { steps, data, ...(opts.resume ? { resume: true } : {}) }, label);
      const metrics = readMetrics(join(dir, 'metrics.jsonl'));
      runs.push({ seed, metrics, firstValLoss: result.firstValLoss, lastValLoss: result.lastValLoss });
    }
    const c = costs[i]!;
    compared.push({ name: spec.name, specPath: spec.source.path, router: routerSummary(spec), params: c.params, activeParams: c.activeParams, flopsPerToken: c.flopsPerToken, hiddenScale: m.factor, runs });
  }

  const report = await writeCompareReport(outDir, compared, { tokens: budget, seeds, match, reference: first.name, data: dataSourceFor(first, data).description });
  say('');
  const finals = compared.map((c) => ({ c, final: spread(c.runs.map((r) => r.lastValLoss)), best: spread(c.runs.map((r) => bestVal(r))) }));
  for (const { c, final, best } of finals) say(`${c.name.padEnd(24)} final validation loss ${formatSpread(final)}, best ${formatSpread(best)}`);
  const winner = [...finals].sort((a, b) => a.final.mean - b.final.mean)[0]!;
  for (const f of finals) if (f !== winner) say(describeDifference(f.c.name, winner.c.name, compareSeeds(f.final, winner.final)));
  say(`report: ${report.replace(`${process.cwd()}/`, '')}`);
}

function fmtCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}
