/**
 * `moec compare`'s report: several specs trained on the same data, seed and
 * token budget — loss against steps and against training FLOPs, final
 * validation loss, throughput and active parameters side by side.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StepMetrics } from '../runtime/trainer.ts';
import { barChart, lineChart, renderSvg } from './charts.ts';
import { esc, page, table, type Section } from './html_page.ts';

export interface ComparedRun {
  readonly name: string;
  readonly specPath: string;
  readonly router: string;
  readonly metrics: readonly StepMetrics[];
  readonly params: number;
  readonly activeParams: number;
  /** Forward FLOPs per token; a training step costs about 3x. */
  readonly flopsPerToken: number;
  readonly firstValLoss: number;
  readonly lastValLoss: number;
}

export async function writeCompareReport(outDir: string, runs: readonly ComparedRun[], budget: { tokens: number; seed: number; data: string }): Promise<string> {
  const sections: Section[] = [];
  const tps = (r: ComparedRun) => (r.metrics.length ? r.metrics.reduce((a, m) => a + m.tokensPerSecond, 0) / r.metrics.length : 0);
  sections.push({
    title: 'Summary',
    note: `Budget: ${budget.tokens} training tokens of ${budget.data} per model (whole steps, so a model whose step size does not divide it sees slightly more or fewer: see the tokens column), seed ${budget.seed}. Training FLOPs count 3x the forward FLOPs per token.`,
    html: table(
      ['model', 'router', 'final validation loss', 'steps', 'tokens', 'tokens/s', 'parameters', 'active per token', 'training GFLOP'],
      [...runs]
        .sort((a, b) => a.lastValLoss - b.lastValLoss)
        .map((r) => {
          const tokens = r.metrics.reduce((n, m) => n + m.tokens, 0);
          return [r.name, r.router, r.lastValLoss.toFixed(4), r.metrics.at(-1)?.step ?? 0, tokens, Math.round(tps(r)), r.params, r.activeParams, ((3 * r.flopsPerToken * tokens) / 1e9).toFixed(2)];
        }),
    ),
  });
  const byStep = runs.flatMap((r) => r.metrics.filter((m) => m.valLoss !== undefined).map((m) => ({ step: m.step, loss: m.valLoss!, model: r.name })));
  const train = runs.flatMap((r) => r.metrics.map((m) => ({ step: m.step, loss: m.loss, model: r.name })));
  const byFlops = runs.flatMap((r) => {
    let tokens = 0;
    return r.metrics.map((m) => {
      tokens += m.tokens;
      return { gflop: (3 * r.flopsPerToken * tokens) / 1e9, loss: m.loss, model: r.name };
    });
  });
  sections.push({ title: 'Training loss against steps', html: await renderSvg(lineChart(train, 'step', 'loss', 'model', 'train cross-entropy')) });
  sections.push({ title: 'Training loss against training compute', note: 'The fair axis when models spend different FLOPs per token.', html: await renderSvg(lineChart(byFlops, 'gflop', 'loss', 'model', 'train cross-entropy', { xTitle: 'training GFLOP' })) });
  if (byStep.length) sections.push({ title: 'Validation loss', html: await renderSvg(lineChart(byStep, 'step', 'loss', 'model', 'validation cross-entropy')) });
  sections.push({ title: 'Throughput', html: await renderSvg(barChart(runs.map((r) => ({ model: r.name, tps: Math.round(tps(r)) })), 'model', 'tps', 'tokens per second (this adapter)', 'tokens/s')) });
  sections.push({ title: 'Specs', html: runs.map((r) => `<p>${esc(r.name)}: ${esc(r.specPath)} — ${esc(r.router)}</p>`).join('') });
  const path = join(outDir, 'compare.html');
  writeFileSync(path, page('moec comparison', runs.map((r) => r.name).join(' vs '), sections));
  return path;
}
