/**
 * The training report, `DIR/report.html`: train and validation loss, expert
 * load per layer over time (heatmap), dropped fraction, router entropy,
 * router losses, and which expert handles which sub-language (built-in
 * corpus) or kind of byte (real text). Every axis says its unit. Read from metrics.jsonl, so it can be rebuilt at any time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { routerSummary, type ModelSpec } from '../compiler/spec.ts';
import type { StepMetrics } from '../runtime/trainer.ts';
import { heatmap, lineChart, renderSvg } from './charts.ts';
import { esc, page, table, type Section } from './html_page.ts';

export interface RunInfo {
  readonly spec: ModelSpec;
  readonly data: string;
  readonly adapter: string;
  /** What tokens are grouped by in the specialisation chart (runtime/data/token_labels.ts), and the group names. */
  readonly labels: { readonly kind: 'sub-language' | 'kind of byte'; readonly names: readonly string[] };
  /** block → expert → label → assignments (or mixing weight). */
  readonly specialization: Record<number, number[][]>;
  readonly params: number;
  readonly activeParams: number;
}

/** Parses metrics.jsonl (ignoring a torn last line from a killed run). */
export function readMetrics(path: string): StepMetrics[] {
  const out: StepMetrics[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as StepMetrics);
    } catch {
      break;
    }
  }
  return out;
}

/** Every n-th row, so charts of long runs stay small. */
function thin<T>(rows: T[], max = 400): T[] {
  if (rows.length <= max) return rows;
  const every = Math.ceil(rows.length / max);
  return rows.filter((_, i) => i % every === 0 || i === rows.length - 1);
}

export async function writeTrainReport(outDir: string, info: RunInfo): Promise<string> {
  const metrics = readMetrics(join(outDir, 'metrics.jsonl'));
  const { spec } = info;
  const sections: Section[] = [];
  const last = metrics.at(-1);
  const vals = metrics.filter((m) => m.valLoss !== undefined);
  const tps = metrics.length ? metrics.reduce((a, m) => a + m.tokensPerSecond, 0) / metrics.length : 0;
  const router = routerSummary(spec);
  sections.push({
    title: 'Run',
    html: table(
      ['', ''],
      [
        ['spec', spec.source.path],
        ['router', router],
        ['data', info.data],
        ['adapter', info.adapter],
        ['steps', last ? last.step : 0],
        ['parameters (active per token)', `${info.params} (${info.activeParams})`],
        ['final train loss', last ? last.loss.toFixed(4) : '-'],
        ['final validation loss', vals.length ? vals.at(-1)!.valLoss!.toFixed(4) : '-'],
        ['mean tokens/s', Math.round(tps)],
      ],
    ),
  });
  const lossRows = thin(metrics).map((m) => ({ step: m.step, loss: m.loss, series: 'train' }));
  for (const m of vals) lossRows.push({ step: m.step, loss: m.valLoss!, series: 'validation' });
  const STEP = { xTitle: 'optimizer step' };
  sections.push({ title: 'Loss', html: await renderSvg(lineChart(lossRows, 'step', 'loss', 'series', 'training and validation loss', { ...STEP, yTitle: 'cross-entropy (nats/byte)' })) });

  const routerLossRows = thin(metrics).flatMap((m) => Object.entries(m.losses).filter(([k]) => k !== 'loss.cross_entropy').map(([k, v]) => ({ step: m.step, value: v, series: k })));
  if (routerLossRows.length) sections.push({ title: 'Router losses', html: await renderSvg(lineChart(routerLossRows, 'step', 'value', 'series', 'auxiliary losses', { ...STEP, yTitle: 'loss × its coefficient (unitless)' })) });

  if (spec.ffn.kind === 'moe' && metrics.length && metrics[0]!.layers.length) {
    const loadRows = thin(metrics).flatMap((m) =>
      m.layers.flatMap((l) => {
        const total = l.load.reduce((a, b) => a + b, 0) || 1;
        return l.load.map((v, e) => ({ step: m.step, expert: e, share: v / total, layer: `block ${l.block}` }));
      }),
    );
    sections.push({
      title: 'Expert load over time',
      note: 'Share of the kept assignments each expert received, per MoE layer (1/E is perfectly balanced).',
      html: await renderSvg(heatmap(loadRows, 'step', 'expert', 'share', 'expert load share per MoE layer', { facet: 'layer', xType: 'quantitative', xTitle: 'optimizer step', yTitle: 'expert', valueTitle: 'share of kept choices' })),
    });
    const dropRows = thin(metrics).flatMap((m) => m.layers.map((l) => ({ step: m.step, dropped: 100 * l.dropped, series: `block ${l.block}` })));
    sections.push({ title: 'Dropped assignments', note: 'Routing choices past an expert\'s capacity, per MoE layer (they ride the residual).', html: await renderSvg(lineChart(dropRows, 'step', 'dropped', 'series', 'dropped choices per MoE layer', { ...STEP, yTitle: 'dropped (% of choices)' })) });
    const entRows = thin(metrics).flatMap((m) => m.layers.map((l) => ({ step: m.step, entropy: l.entropy, series: `block ${l.block}` })));
    sections.push({ title: 'Router entropy', note: 'Mean entropy of softmax(router logits) per token, per MoE layer; ln E is uniform.', html: await renderSvg(lineChart(entRows, 'step', 'entropy', 'series', 'router entropy per MoE layer', { ...STEP, yTitle: 'entropy (nats)' })) });
    const labels = info.labels;
    if (labels.names.length) {
      const specRows = Object.entries(info.specialization).flatMap(([block, experts]) => {
        const perLang = labels.names.map((_, li) => experts.reduce((a, e) => a + (e[li] ?? 0), 0) || 1);
        return experts.flatMap((e, ei) => labels.names.map((lang, li) => ({ layer: `block ${block}`, expert: ei, language: lang, share: (e[li] ?? 0) / perLang[li]! })));
      });
      const what = labels.kind === 'sub-language' ? 'sub-language of the built-in corpus' : 'kind of byte of the text (the token routed)';
      sections.push({
        title: `Which expert handles which ${labels.kind}`,
        note: `For each ${what}, the share of its routing (assignments, or mixing weight) each expert received over the run (since the last start or resume).`,
        html: await renderSvg(heatmap(specRows, 'language', 'expert', 'share', `expert share per ${labels.kind}, per MoE layer`, { facet: 'layer', xTitle: labels.kind, yTitle: 'expert', valueTitle: `share of the ${labels.kind}'s routing` })),
      });
    }
  }
  const gradRows = thin(metrics).map((m) => ({ step: m.step, value: m.gradNorm, series: 'gradient norm' }));
  sections.push({ title: 'Gradient norm and learning rate', html: (await renderSvg(lineChart(gradRows, 'step', 'value', 'series', 'global gradient norm', { ...STEP, yTitle: 'L2 norm before clipping' }))) + (await renderSvg(lineChart(thin(metrics).map((m) => ({ step: m.step, value: m.lr, series: 'learning rate' })), 'step', 'value', 'series', 'learning rate', { ...STEP, yTitle: 'learning rate (per step)' }))) });
  sections.push({ title: 'Spec', html: `<pre>${esc(spec.source.text)}</pre>` });
  const html = page(`moec training report: ${spec.name}`, `${spec.source.path}, ${metrics.length ? metrics.at(-1)!.step : 0} steps`, sections);
  const path = join(outDir, 'report.html');
  writeFileSync(path, html);
  return path;
}
