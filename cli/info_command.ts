/**
 * `moec info SPEC`: parameters, active parameters per token, FLOPs per token
 * and kernel counts, per layer and total.
 */
import { humanCount, modelCost, type ModelCost } from '../compiler/cost.ts';
import type { Graph } from '../compiler/ir.ts';
import { lowerModel } from '../compiler/lower.ts';
import { generateGraph } from '../codegen/wgsl/generate.ts';
import { kernelIdentity } from '../codegen/wgsl/kernel_dump.ts';
import { describeCore } from '../compiler/routing_core.ts';
import { moeDefinitions, type ModelSpec } from '../compiler/spec.ts';
import { requireSpec } from './load_spec.ts';

/** A few lines summarising a checked spec (also used by the main job). */
/** Kernel dispatches per training step, counted from the generated plan. */
export function kernelCounts(graph: Graph, specPath: string): { forward: number; backward: number; unique: number } {
  const plan = generateGraph(graph, { specPath });
  const all = [...plan.ops, ...plan.stateUpdates];
  const kernels = all.flatMap((k) => [...k.forward, ...k.backward]);
  const unique = new Set(kernels.map(kernelIdentity)).size;
  return { forward: all.reduce((n, k) => n + k.forward.length, 0), backward: all.reduce((n, k) => n + k.backward.length, 0), unique };
}

export function specSummary(spec: ModelSpec, cost: ModelCost, kernels: ReturnType<typeof kernelCounts>): string {
  const lines = [`${spec.name} (${spec.source.path})`];
  const definitions = moeDefinitions(spec);
  for (const { moe } of definitions) {
    const ex = moe.experts;
    const kind = ex.kind === 'full' ? '' : ` ${ex.kind}`;
    // Layers that differ say which blocks they are.
    const blocks = spec.layers.flatMap((l, b) => (l === moe ? [b] : []));
    const where = definitions.length > 1 ? ` (blocks ${blocks.join(', ')})` : '';
    lines.push(`  experts${where}: ${ex.count}${kind} x hidden ${ex.hidden} ${ex.activation}${ex.segments > 1 ? ` (${ex.count / ex.segments} x ${ex.segments} segments)` : ''}${moe.shared ? `, ${moe.shared.count} shared x hidden ${moe.shared.hidden}${moe.shared.gate === 'sigmoid' ? ' (sigmoid gate)' : ''}` : ''}`);
    lines.push(`  router${where}: ${moe.preset} = ${describeCore(moe.routing)}`);
  }
  const dense = spec.layers.flatMap((l, b) => (l.kind === 'dense' ? [{ l, b }] : []));
  if (dense.length) {
    const shapes = [...new Set(dense.map(({ l }) => `hidden ${l.hidden} ${l.activation}`))];
    lines.push(`  dense FFN${definitions.length ? ` (blocks ${dense.map(({ b }) => b).join(', ')})` : ''}: ${shapes.join('; ')}`);
  }
  lines.push(`  parameters ${humanCount(cost.params)} (trainable ${humanCount(cost.trainableParams)}), active per token ${humanCount(cost.activeParams)}`);
  lines.push(`  forward FLOPs per token ${humanCount(cost.flopsPerToken)} (a training step is about 3x)`);
  lines.push(`  kernels to generate: ${kernels.unique} WGSL kernels; a training step dispatches ${kernels.forward} forward + ${kernels.backward} backward`);
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
  const graph = lowerModel(spec);
  const cost = modelCost(spec, graph);
  const kernels = kernelCounts(graph, path);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ name: spec.name, file: path, ...cost, kernels }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${specSummary(spec, cost, kernels)}\n${table(cost)}\n`);
}
