/**
 * `moec compare A.moe B.moe …`: trains each spec on the same data and seed
 * for the same number of training tokens, then writes one comparison report.
 */
import { join, resolve } from 'node:path';
import { modelCost } from '../compiler/cost.ts';
import { lowerModel } from '../compiler/lower.ts';
import { routerSummary, type ModelSpec } from '../compiler/spec.ts';
import { writeCompareReport, type ComparedRun } from '../report/compare_report.ts';
import { readMetrics } from '../report/train_report.ts';
import { dataSourceFor, runTraining } from './train_command.ts';
import { requireSpec } from './load_spec.ts';
import { UserError } from './user_error.ts';

export interface CompareOptions {
  steps?: number;
  out: string;
  data?: string;
  seed: number;
  resume?: boolean;
}

export async function compareCommand(paths: string[], opts: CompareOptions): Promise<void> {
  if (paths.length < 2) throw new UserError('compare needs at least two specs', 'e.g. moec compare specs/switch.moe specs/dense.moe specs/mixture_of_tokens.moe');
  const specs = paths.map((p) => requireSpec(p));
  const names = specs.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UserError(`two specs are both named \`${dup}\``, 'give each model its own name: their runs go to DIR/<name>');
  const first = specs[0]!;
  const budget = (opts.steps ?? first.train.steps) * first.train.batch * first.context * first.train.accumulate;
  const outDir = resolve(opts.out);
  const runs: ComparedRun[] = [];
  for (const original of specs) {
    // The same seed for everyone; steps chosen so every model sees the same number of tokens.
    const spec: ModelSpec = { ...original, train: { ...original.train, seed: opts.seed } };
    const perStep = spec.train.batch * spec.context * spec.train.accumulate;
    const steps = Math.max(1, Math.round(budget / perStep));
    const dir = join(outDir, spec.name);
    const result = await runTraining(spec, dir, { steps, ...(opts.data ? { data: opts.data } : {}), ...(opts.resume ? { resume: true } : {}) }, spec.name);
    const cost = modelCost(spec, lowerModel(spec));
    runs.push({
      name: spec.name,
      specPath: spec.source.path,
      router: routerSummary(spec),
      metrics: readMetrics(join(dir, 'metrics.jsonl')),
      params: cost.params,
      activeParams: cost.activeParams,
      flopsPerToken: cost.flopsPerToken,
      firstValLoss: result.firstValLoss,
      lastValLoss: result.lastValLoss,
    });
  }
  const report = await writeCompareReport(outDir, runs, { tokens: budget, seed: opts.seed, data: dataSourceFor(first, opts.data).description });
  process.stdout.write(`\n${runs.map((r) => `${r.name.padEnd(24)} final validation loss ${r.lastValLoss.toFixed(4)}`).join('\n')}\nreport: ${report.replace(`${process.cwd()}/`, '')}\n`);
}
