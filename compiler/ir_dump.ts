/**
 * A readable, stable text form of the IR (`moec ir`), also used for golden
 * snapshots: one line per tensor declaration and per op, in order.
 */
import type { AttrValue, Graph, Op, Tensor } from './ir.ts';
import { isDefaultAttr } from './ops/registry.ts';

function shapeText(t: Tensor): string {
  return `${t.dtype}[${t.shape.join(', ')}]`;
}

function attrText(v: AttrValue): string {
  return typeof v === 'string' ? v : String(v);
}

function initText(t: Tensor): string {
  const i = t.init;
  if (!i) return '';
  switch (i.kind) {
    case 'normal':
      return ` init normal(std=${+i.std.toPrecision(4)})`;
    case 'constant':
      return ` init constant(${+i.value.toPrecision(6)})`;
    default:
      return ` init ${i.kind}`;
  }
}

function opLine(op: Op, g: Graph): string {
  const ins = Object.entries(op.inputs).map(([k, v]) => `${k}=%${v}`).join(', ');
  const outs = Object.entries(op.outputs).map(([k, v]) => `%${v}: ${shapeText(g.tensors.get(v)!)}`).join(', ');
  // Attributes at their default are left out: an option a graph does not use does not show.
  const attrs = Object.entries(op.attrs).filter(([k, v]) => !isDefaultAttr(op.kind, k, v)).map(([k, v]) => `${k}=${attrText(v)}`).join(' ');
  const where = op.origin.line ? `  # line ${op.origin.line}` : '';
  return `  ${outs} = ${op.kind}(${ins})${attrs ? ` {${attrs}}` : ''}${where}`;
}

/** The whole graph as text. */
export function dumpGraph(g: Graph): string {
  const lines: string[] = [`graph ${g.kind} ${g.name} (batch ${g.batch}, seq ${g.seq}, tokens ${g.batch * g.seq})`];
  const byRole = (role: Tensor['role']) => [...g.tensors.values()].filter((t) => t.role === role);
  for (const role of ['input', 'param', 'frozen', 'state'] as const) {
    const ts = byRole(role);
    if (!ts.length) continue;
    lines.push(`${role}s:`);
    for (const t of ts) lines.push(`  %${t.name}: ${shapeText(t)}${initText(t)}`);
  }
  lines.push('ops:');
  for (const op of g.ops) lines.push(opLine(op, g));
  if (g.stateUpdates.length) {
    lines.push('after each step:');
    for (const op of g.stateUpdates) lines.push(opLine(op, g));
  }
  lines.push(`objective: ${g.losses.map((l) => `%${l}`).join(' + ')}`);
  lines.push(`output: %${g.output}`);
  return `${lines.join('\n')}\n`;
}
