/**
 * Charts for the HTML reports: vega-lite specs compiled and rendered to SVG
 * in Node (no browser, no network), so a report is one self-contained file.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Renders a vega-lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

type Row = Record<string, number | string>;

const WIDTH = 520;
const HEIGHT = 220;

/** Lines of `y` against `x`, one per `series`. */
export function lineChart(rows: Row[], x: string, y: string, series: string, title: string, opts: { xTitle?: string; yTitle?: string; logX?: boolean } = {}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: rows.length < 40 },
    encoding: {
      x: { field: x, type: 'quantitative', title: opts.xTitle ?? x, ...(opts.logX ? { scale: { type: 'log' } } : {}) },
      y: { field: y, type: 'quantitative', title: opts.yTitle ?? y, scale: { zero: false } },
      color: { field: series, type: 'nominal', title: null },
    },
  } as TopLevelSpec;
}

/** Mean lines of rows {x, mean, lo, hi, model}, each with a shaded band from lo to hi (the range over seeds). */
export function bandChart(rows: { x: number; mean: number; lo: number; hi: number; model: string }[], title: string, xTitle: string, yTitle: string): TopLevelSpec {
  const x = { field: 'x', type: 'quantitative', title: xTitle };
  const color = { field: 'model', type: 'nominal', title: null };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      { mark: { type: 'area', opacity: 0.2 }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: yTitle, scale: { zero: false } }, y2: { field: 'hi' }, color } },
      { mark: { type: 'line', point: rows.length < 40 }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: yTitle, scale: { zero: false } }, color } },
    ],
  } as TopLevelSpec;
}

/** A heatmap of `value` over (`x`, `y`), one panel per `facet` (if given). */
export function heatmap(rows: Row[], x: string, y: string, value: string, title: string, opts: { facet?: string; xType?: 'ordinal' | 'quantitative'; xTitle?: string; yTitle?: string; valueTitle?: string } = {}): TopLevelSpec {
  const inner = {
    mark: 'rect',
    encoding: {
      x: opts.xType === 'quantitative' ? { field: x, type: 'quantitative', bin: { maxbins: 60 }, title: opts.xTitle ?? x } : { field: x, type: 'ordinal', title: opts.xTitle ?? x },
      y: { field: y, type: 'ordinal', title: opts.yTitle ?? y },
      color: { field: value, type: 'quantitative', aggregate: 'mean', title: opts.valueTitle ?? value, scale: { scheme: 'viridis' } },
    },
  };
  if (opts.facet) {
    return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, data: { values: rows }, facet: { row: { field: opts.facet, type: 'nominal', title: null } }, spec: { width: WIDTH, height: 140, ...inner } } as TopLevelSpec;
  }
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, width: WIDTH, height: 160, data: { values: rows }, ...inner } as TopLevelSpec;
}

/** Horizontal bars of `value` per `category`. */
export function barChart(rows: Row[], category: string, value: string, title: string, valueTitle?: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: WIDTH,
    height: Math.max(60, rows.length * 22),
    data: { values: rows },
    mark: 'bar',
    encoding: { y: { field: category, type: 'nominal', sort: '-x', title: null }, x: { field: value, type: 'quantitative', title: valueTitle ?? value } },
  } as TopLevelSpec;
}
