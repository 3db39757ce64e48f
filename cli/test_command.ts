/**
 * `moec test SPEC`: proves every generated kernel of a spec, forward and
 * backward, on this machine's WebGPU adapter against the Float64 reference,
 * at several shapes (see runtime/test_scenarios.ts). Prints one table row
 * per op, pass and shape (the worst tensor), and exits 1 on any failure.
 */
import { sharedGpu } from '../runtime/gpu.ts';
import { checkFits } from './device_fit_report.ts';
import { BACKWARD_TOLERANCE, FORWARD_TOLERANCE, checkScenario, type CheckRow } from '../runtime/kernel_check.ts';
import { scenariosFor } from '../runtime/test_scenarios.ts';
import { checkOptimizer } from '../runtime/optimizer_check.ts';
import { requireSpec } from './load_spec.ts';

export interface TestOptions {
  seed: number;
  verbose?: boolean;
  json?: boolean;
}

/** The worst row of each (scenario, op, pass). */
function worstRows(rows: readonly CheckRow[]): CheckRow[] {
  const groups = new Map<string, CheckRow>();
  for (const r of rows) {
    const key = `${r.scenario}\u0000${r.op}\u0000${r.pass}`;
    const prev = groups.get(key);
    const worse = !prev || (prev.ok && !r.ok) || (prev.ok === r.ok && r.maxRel / (r.tolerance || 1) > prev.maxRel / (prev.tolerance || 1));
    if (worse) groups.set(key, r);
  }
  return [...groups.values()];
}

function fmt(x: number): string {
  return x === 0 ? '0' : x.toExponential(2);
}

/** Renders rows as an aligned text table. */
export function renderTable(rows: readonly CheckRow[]): string {
  const head = ['shape', 'kernel', 'pass', 'tensor', 'max abs err', 'max rel err', 'tolerance', 'verdict'];
  const body = rows.map((r) => [
    r.scenario,
    `${r.op}/${r.kernels}`,
    r.pass,
    `${r.tensor} ${r.shape}`,
    fmt(r.maxAbs),
    r.mismatches !== undefined ? `${r.mismatches} differ` : fmt(r.maxRel),
    r.mismatches !== undefined ? 'exact' : fmt(r.tolerance),
    r.ok ? 'pass' : 'FAIL',
  ]);
  const all = [head, ...body];
  const widths = head.map((_, i) => Math.min(60, Math.max(...all.map((r) => r[i]!.length))));
  return all.map((r) => r.map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export async function testCommand(path: string, opts: TestOptions): Promise<void> {
  const spec = requireSpec(path, { json: false });
  const gpu = await sharedGpu();
  const all: CheckRow[] = [];
  const log = (s: string) => {
    if (!opts.json) process.stdout.write(`${s}\n`);
  };
  log(`moec test ${path} on ${gpu.adapterName}`);
  log(`tolerances (relative to the tensor's largest reference value): forward ${FORWARD_TOLERANCE}, backward ${BACKWARD_TOLERANCE}; routing indices must match exactly`);
  for (const scenario of scenariosFor(spec, opts.seed)) {
    const rows = await checkFits(spec, () => checkScenario(gpu, scenario, path));
    all.push(...rows);
    if (!opts.json) {
      log('');
      log(renderTable(opts.verbose ? rows : worstRows(rows)));
    }
  }
  const optimizer = await checkOptimizer(gpu, spec, opts.seed);
  all.push(...optimizer);
  if (!opts.json) {
    log('');
    log(renderTable(optimizer));
  }
  const failed = all.filter((r) => !r.ok);
  const kernels = new Set(all.map((r) => `${r.op}/${r.kernels}`)).size;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ spec: path, adapter: gpu.adapterName, passed: failed.length === 0, rows: all }, null, 1)}\n`);
  } else {
    log('');
    log(failed.length === 0 ? `all ${all.length} comparisons of ${kernels} kernel groups passed` : `${failed.length} of ${all.length} comparisons FAILED`);
  }
  if (failed.length) process.exitCode = 1;
}
