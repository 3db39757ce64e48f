/**
 * `moec info SPEC`: parameters, active parameters per token, FLOPs per token
 * and kernel counts, per layer and total.
 */
import { humanCount, modelCost, type ModelCost } from '../compiler/cost.ts';
import { lowerModel } from '../compiler/lower.ts';
import { describeCore } from '../compiler/routing_core.ts';
import type { ModelSpec } from '../compiler/spec.ts';
import { requireSpec } from './load_spec.ts';

/** A few lines summarising a checked spec (also used by the main job). */
export function specSummary(spec: ModelSpec, cost: ModelCost): string {
  const lines = [`${spec.name} (${spec.source.path})`];
  const ffn = spec.ffn;
  if (ffn.kind === 'moe') {
    const ex = ffn.experts;
    const kind = ex.kind === 'full' ? '' : ` ${ex.kind}`;
    lines.push(`  experts: ${ex.count}${kind} x hidden ${ex.hidden} ${ex.activation}${ex.segments > 1 ? ` (${ex.count / ex.segments} x ${ex.segments} segments)` : ''}${ffn.shared ? `, ${ffn.shared.count} shared x hidden ${ffn.shared.hidden}` : ''}`);
    lines.push(`  router: ${ffn.preset} = ${describeCore(ffn.routing)}`);
  } else {
    lines.push(`  dense FFN: hidden ${ffn.hidden} ${ffn.activation}`);
  }
  lines.push(`  parameters ${humanCount(cost.params)} (trainable ${humanCount(cost.trainableParams)}), active per token ${humanCount(cost.activeParams)}`);
  lines.push(`  forward FLOPs per token ${humanCount(cost.flopsPerToken)} (a training step is about 3x)`);
  lines.push(`  kernels to generate: ${cost.kernels.forward} forward + ${cost.kernels.backward} backward dispatches per step`);
  return lines.join('\n');
}

function table(cost: ModelCost): string {
  const rows = [['layer', 'kind', 'params', 'active/token', 'FLOPs/token']];
  for (const l of cost.layers) rows.push([l.layer, l.kind, humanCount(l.params), humanCount(l.activeParams), humanCount(l.flopsPerToken)]);
  rows.push(['total', '', humanCount(cost.params), humanCount(cost.activeParams), humanCount(cost.flopsPerToken)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`).join('\n');
}

export function infoCommand(path: string, opts: { json?: boolean }): void {
  const spec = requireSpec(path, { json: false });
  const cost = modelCost(spec, lowerModel(spec));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ name: spec.name, file: path, ...cost }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${specSummary(spec, cost)}\n${table(cost)}\n`);
}
