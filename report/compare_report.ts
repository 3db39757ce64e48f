/**
 * `moec compare`'s report: several specs trained on the same data and token
 * budget (at matched compute or parameters when asked), each over one or
 * more seeds — the final and best validation loss with their seed spread
 * and what is beyond noise, loss against tokens and against training FLOPs
 * with a band over seeds, and each MoE layer's expert load, drops and
 * router entropy side by side on shared axes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StepMetrics } from '../runtime/trainer.ts';
import { bandChart, barChart, lineChart, renderSvg } from './charts.ts';
import { esc, page, table, type Section } from './html_page.ts';
import { compareSeeds, describeDifference, formatSpread, spread } from './seed_statistics.ts';

/** One training run of a compared spec. */
export interface SeedRun {
  readonly seed: number;
  readonly metrics: readonly StepMetrics[];
  readonly firstValLoss: number;
  readonly lastValLoss: number;
}

export interface ComparedSpec {
  readonly name: string;
  readonly specPath: string;
  readonly router: string;
  readonly params: number;
  readonly activeParams: number;
  /** Forward FLOPs per token; a training step costs about 3x. */
  readonly flopsPerToken: number;
  /** The factor --match scaled the FFN hidden sizes by (1: as written). */
  readonly hiddenScale: number;
  readonly runs: readonly SeedRun[];
}

export interface CompareBudget {
  readonly tokens: number;
  readonly seeds: readonly number[];
  readonly match: string;
  readonly reference: string;
  readonly data: string;
}

/** The lowest validation loss a run reached at its evaluations. */
export function bestVal(r: SeedRun): number {
  return Math.min(r.lastValLoss, ...r.metrics.flatMap((m) => (m.valLoss !== undefined ? [m.valLoss] : [])));
}

type Curve = { x: number; mean: number; lo: number; hi: number; model: string }[];

/**
 * Per spec, per step: mean, min and max over seeds of `value`, against
 * cumulative tokens (or training GFLOP). `smooth` > 1 first replaces each
 * run's values by their mean over the last `smooth` steps (training loss is
 * one batch's and jumps from step to step).
 */
function curve(specs: readonly ComparedSpec[], value: (m: StepMetrics) => number | undefined, axis: 'tokens' | 'gflop', smooth = 1): Curve {
  return specs.flatMap((s) => {
    const byStep = new Map<number, { x: number; values: number[] }>();
    for (const r of s.runs) {
      let tokens = 0;
      const recent: number[] = [];
      for (const m of r.metrics) {
        tokens += m.tokens;
        const raw = value(m);
        if (raw === undefined) continue;
        recent.push(raw);
        if (recent.length > smooth) recent.shift();
        const v = recent.reduce((a, b) => a + b, 0) / recent.length;
        const x = axis === 'tokens' ? tokens : (3 * s.flopsPerToken * tokens) / 1e9;
        const e = byStep.get(m.step) ?? { x, values: [] };
        e.values.push(v);
        byStep.set(m.step, e);
      }
    }
    return [...byStep.values()].map(({ x, values }) => ({ x, mean: values.reduce((a, b) => a + b, 0) / values.length, lo: Math.min(...values), hi: Math.max(...values), model: s.name }));
  });
}

/** Writes OUT/compare.html for the compared specs' runs and returns its path. */
export async function writeCompareReport(outDir: string, specs: readonly ComparedSpec[], budget: CompareBudget): Promise<string> {
  const sections: Section[] = [];
  const tps = (s: ComparedSpec) => {
    const all = s.runs.flatMap((r) => r.metrics);
    return all.length ? all.reduce((a, m) => a + m.tokensPerSecond, 0) / all.length : 0;
  };
  const finals = specs.map((s) => ({ s, final: spread(s.runs.map((r) => r.lastValLoss)), best: spread(s.runs.map(bestVal)) }));
  const winner = [...finals].sort((a, b) => a.final.mean - b.final.mean)[0]!;
  const matchText = budget.match === 'none' ? 'models as written' : `FFN hidden sizes scaled so every model has ${budget.reference}'s ${budget.match === 'flops' ? 'forward FLOPs per token' : 'parameter count'}`;
  sections.push({
    title: 'Summary',
    note: `Budget: ${budget.tokens} training tokens of ${budget.data} per run (whole steps: see the tokens column); ${matchText}; seeds ${budget.seeds.join(', ')}. Losses are cross-entropy in nats per byte, mean ± standard deviation over seeds. Training FLOPs count 3x the forward FLOPs per token.`,
    html: table(
      ['model', 'router', 'final validation loss', 'best validation loss', 'steps', 'tokens per run', 'tokens/s', 'parameters', 'active per token', 'MFLOP per token', 'hidden scale'],
      [...finals]
        .sort((a, b) => a.final.mean - b.final.mean)
        .map(({ s, final, best }) => {
          const r = s.runs[0]!;
          const tokens = r.metrics.reduce((n, m) => n + m.tokens, 0);
          return [s.name, s.router, formatSpread(final), formatSpread(best), r.metrics.at(-1)?.step ?? 0, tokens, Math.round(tps(s)), s.params, s.activeParams, (s.flopsPerToken / 1e6).toFixed(3), s.hiddenScale === 1 ? 'as written' : `x${s.hiddenScale.toFixed(3)}`];
        }),
    ),
  });
  const lines = finals.filter((f) => f !== winner).map((f) => describeDifference(f.s.name, winner.s.name, compareSeeds(f.final, winner.final)));
  sections.push({
    title: 'Beyond noise?',
    note: 'Final validation loss of each model against the lowest. Every model ran the same seeds, and a seed fixes the data order, so runs are paired by seed (same batches when batch size and context agree): t on the per-seed differences, counted as beyond noise at Student\'s two-sided 95% critical value (4.30 with 3 seeds). The lowest was picked after the fact, so treat a borderline verdict with care.',
    html: `<ul>${lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`,
  });
  const band = budget.seeds.length > 1 ? ' (line: mean over seeds; band: their range)' : '';
  const val = curve(specs, (m) => m.valLoss, 'tokens');
  if (val.length) sections.push({ title: 'Validation loss against tokens', html: await renderSvg(bandChart(val, `validation loss${band}`, 'training tokens', 'cross-entropy (nats/byte)')) });
  // Training loss is one batch's: a running mean over 2% of the steps, and the first 5% (the fall from ln 256) left out so the axis shows the differences.
  const steps = Math.max(...specs.flatMap((s) => s.runs.map((r) => r.metrics.length)));
  const smooth = Math.max(1, Math.round(steps / 50));
  const trainCurve = (axis: 'tokens' | 'gflop') => curve(specs, (m) => (m.step > steps / 20 ? m.loss : undefined), axis, smooth);
  const trainNote = `Mean of the last ${smooth} steps' training loss (each step's is one batch's); the first 5% of steps left out.`;
  sections.push({ title: 'Training loss against tokens', note: trainNote, html: await renderSvg(bandChart(trainCurve('tokens'), `training loss${band}`, 'training tokens', 'cross-entropy (nats/byte)')) });
  sections.push({ title: 'Training loss against training compute', note: `The fair axis when models spend different FLOPs per token. ${trainNote}`, html: await renderSvg(bandChart(trainCurve('gflop'), `training loss${band}`, 'training GFLOP (3 x forward)', 'cross-entropy (nats/byte)')) });
  sections.push(...(await layerSections(specs)));
  sections.push({ title: 'Throughput', html: await renderSvg(barChart(specs.map((s) => ({ model: s.name, tps: Math.round(tps(s)) })), 'model', 'tps', 'training tokens per second (this adapter)', 'tokens/s')) });
  sections.push({ title: 'Specs', html: specs.map((s) => `<p>${esc(s.name)}: ${esc(s.specPath)} — ${esc(s.router)}</p>`).join('') });
  const path = join(outDir, 'compare.html');
  writeFileSync(path, page('moec comparison', specs.map((s) => s.name).join(' vs '), sections));
  return path;
}

/** Each MoE layer's dropped fraction, router entropy and load imbalance over training, every model on the same axes (the first seed's run). */
async function layerSections(specs: readonly ComparedSpec[]): Promise<Section[]> {
  const rows = specs.flatMap((s) => {
    let tokens = 0;
    return s.runs[0]!.metrics.flatMap((m) => {
      tokens += m.tokens;
      return m.layers.map((l) => {
        const total = l.load.reduce((a, b) => a + b, 0);
        const imbalance = total > 0 ? (Math.max(...l.load) * l.load.length) / total : 1;
        return { tokens, dropped: 100 * l.dropped, entropy: l.entropy, imbalance, series: `${s.name} block ${l.block}` };
      });
    });
  });
  if (!rows.length) return [];
  const chart = (y: string, title: string, yTitle: string) => renderSvg(lineChart(rows, 'tokens', y, 'series', title, { xTitle: 'training tokens', yTitle }));
  return [
    { title: 'Expert load imbalance', note: 'Busiest expert\'s share of the layer\'s kept choices times the number of experts: 1 is perfectly even, E is everything on one expert.', html: await chart('imbalance', 'load imbalance per MoE layer', 'max load / mean load') },
    { title: 'Dropped choices', html: await chart('dropped', 'choices dropped by capacity', 'dropped (% of choices)') },
    { title: 'Router entropy', html: await chart('entropy', 'mean entropy of softmax(router logits)', 'entropy (nats)') },
  ];
}
