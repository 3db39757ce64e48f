/**
 * The page's live charts as plain SVG (redrawn every step; no chart library
 * in the page): loss of every run on shared axes, and expert load over time
 * per MoE layer. Axes say their units.
 */
import type { LayerLoad } from '../protocol.ts';

export interface RunSeries {
  readonly label: string;
  readonly color: string;
  readonly loss: readonly (readonly [number, number])[];
  readonly val: readonly (readonly [number, number])[];
}

const W = 560;
const H = 260;
const PAD = { left: 56, right: 12, top: 12, bottom: 40 };

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function ticks(lo: number, hi: number, n = 5): number[] {
  const step = (hi - lo) / n || 1;
  return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
}

/** Training loss (lines) and validation loss (dots) of every run against the optimizer step. */
export function lossChart(runs: readonly RunSeries[]): string {
  const pts = runs.flatMap((r) => [...r.loss, ...r.val]);
  if (!pts.length) return `<svg width="${W}" height="${H}" role="img" aria-label="loss"><text x="20" y="40">Loss appears here once training starts.</text></svg>`;
  const xMax = Math.max(1, ...pts.map((p) => p[0]));
  const yLo = Math.min(...pts.map((p) => p[1]));
  const yHi = Math.max(...pts.map((p) => p[1]));
  const x = (v: number) => PAD.left + (v / xMax) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - yLo) / (yHi - yLo || 1)) * (H - PAD.top - PAD.bottom);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 18 * runs.length}" role="img" aria-label="loss chart">`];
  for (const t of ticks(yLo, yHi)) parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${PAD.left - 4}" y="${y(t) + 4}" font-size="10" text-anchor="end">${t.toFixed(2)}</text>`);
  for (const t of ticks(0, xMax)) parts.push(`<text x="${x(t)}" y="${H - PAD.bottom + 14}" font-size="10" text-anchor="middle">${Math.round(t)}</text>`);
  parts.push(`<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">optimizer step</text>`);
  parts.push(`<text transform="translate(12 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)" font-size="11" text-anchor="middle">cross-entropy (nats/byte)</text>`);
  runs.forEach((r, i) => {
    if (r.loss.length) parts.push(`<polyline fill="none" stroke="${r.color}" stroke-width="1.5" points="${r.loss.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of r.val) parts.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3.5" fill="white" stroke="${r.color}" stroke-width="2"/>`);
    parts.push(`<rect x="${PAD.left}" y="${H + 4 + 18 * i}" width="12" height="10" fill="${r.color}"/><text x="${PAD.left + 18}" y="${H + 13 + 18 * i}" font-size="11">${esc(r.label)}: train (line), validation (circles)</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Each MoE layer's share of kept choices per expert over the steps of one run (darker: busier). */
export function loadHeatmap(history: readonly { step: number; layers: readonly LayerLoad[] }[]): string {
  const layers = history.at(-1)?.layers ?? [];
  if (!layers.length) return '<svg width="560" height="40" role="img" aria-label="expert load"><text x="20" y="24">Expert load appears here for MoE models.</text></svg>';
  const cols = Math.min(history.length, 80);
  const every = history.length / cols;
  const cell = Math.max(3, Math.floor((W - 90) / cols));
  const rowsPerLayer = Math.max(...layers.map((l) => l.load.length));
  const rowH = Math.max(4, Math.min(14, Math.floor(120 / rowsPerLayer)));
  const blockH = rowsPerLayer * rowH + 22;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${layers.length * blockH + 30}" role="img" aria-label="expert load heatmap">`];
  layers.forEach((layer, li) => {
    const top = li * blockH + 14;
    parts.push(`<text x="0" y="${top - 3}" font-size="11">block ${layer.block}: share of kept choices per expert (rows) over optimizer steps (columns)</text>`);
    for (let c = 0; c < cols; c++) {
      const h = history[Math.min(history.length - 1, Math.floor(c * every))]!;
      const load = h.layers[li]?.load ?? [];
      const total = load.reduce((a, b) => a + b, 0) || 1;
      load.forEach((v, e) => {
        const share = v / total;
        const level = Math.round(255 * (1 - Math.min(1, share * load.length * 0.5)));
        parts.push(`<rect x="${60 + c * cell}" y="${top + e * rowH}" width="${cell}" height="${rowH}" fill="rgb(${level},${level},255)"><title>step ${h.step}, expert ${e}: ${(100 * share).toFixed(1)}%</title></rect>`);
      });
    }
    parts.push(`<text x="54" y="${top + rowH}" font-size="9" text-anchor="end">expert 0</text><text x="54" y="${top + layer.load.length * rowH}" font-size="9" text-anchor="end">${layer.load.length - 1}</text>`);
  });
  parts.push(`<text x="60" y="${layers.length * blockH + 24}" font-size="10">white: no choices; blue: twice the even share or more</text></svg>`);
  return parts.join('');
}
