/**
 * Proves generated kernels against the Float64 reference, op by op: each
 * op's forward kernels run on the GPU on the f32-rounded inputs the reference
 * chain produced, and the reference op runs on exactly the same values; then
 * its backward kernels run on a seeded random upstream gradient. Every float
 * output and input gradient is compared with a relative-error tolerance;
 * integer (routing) outputs must match exactly.
 */
import type { Graph, Op } from '../compiler/ir.ts';
import { generateGraph } from '../codegen/wgsl/generate.ts';
import { assertFits } from './device_budget.ts';
import { gradName, type OpKernels } from '../codegen/wgsl/kernel.ts';
import { Executor, type HostArray } from './executor.ts';
import type { Gpu } from './gpu.ts';
import { referenceForward, referenceOpBackward, referenceOpForward } from '../codegen/reference/interpreter.ts';
import { takesGradient, type RefGrads, type RefValues } from '../codegen/reference/values.ts';
import { Rng } from './rng.ts';

/** Forward kernels must match the reference to this relative error (f32 vs Float64). */
export const FORWARD_TOLERANCE = 1e-4;
/** Backward kernels: longer reductions, so a looser bound. */
export const BACKWARD_TOLERANCE = 1e-3;
/** Relative error is max|gpu − ref| / max(max|ref|, this): tensors that are ~0 are judged absolutely. */
const SCALE_FLOOR = 1e-6;

/** One comparison: one tensor of one op in one pass. */
export interface CheckRow {
  readonly scenario: string;
  readonly op: string;
  readonly kernels: string;
  readonly pass: 'forward' | 'backward';
  readonly tensor: string;
  readonly shape: string;
  readonly maxAbs: number;
  readonly maxRel: number;
  readonly tolerance: number;
  readonly ok: boolean;
  /** For integer outputs: how many elements differ. */
  readonly mismatches?: number;
}

/** A graph with its input and parameter values (f32 / i32). */
export interface Scenario {
  readonly name: string;
  readonly graph: Graph;
  readonly values: ReadonlyMap<string, HostArray>;
  readonly seed: number;
}

function toRef(a: HostArray): Float64Array | Int32Array {
  return a instanceof Int32Array ? Int32Array.from(a) : Float64Array.from(a);
}

function toHost(a: Float64Array | Int32Array): HostArray {
  return a instanceof Int32Array ? Int32Array.from(a) : Float32Array.from(a);
}

/** Max abs error and error relative to the reference's scale, over `mask`ed elements. */
export function compare(gpu: ArrayLike<number>, ref: ArrayLike<number>, mask?: (i: number) => boolean): { maxAbs: number; maxRel: number; mismatches: number } {
  let maxAbs = 0;
  let scale = 0;
  let mismatches = 0;
  for (let i = 0; i < ref.length; i++) {
    if (mask && !mask(i)) continue;
    const r = ref[i]!;
    const g = gpu[i]!;
    const diff = Number.isNaN(g) !== Number.isNaN(r) ? Infinity : Math.abs(g - r) || 0;
    if (diff > 0) mismatches++;
    maxAbs = Math.max(maxAbs, diff);
    scale = Math.max(scale, Math.abs(r));
  }
  return { maxAbs, maxRel: maxAbs / Math.max(scale, SCALE_FLOOR), mismatches };
}

/** Rows of an expert buffer that hold data (rows past expert_offsets[E] belong to no expert). */
function rowMask(op: Op, values: RefValues, graph: Graph, tensor: string): ((i: number) => boolean) | undefined {
  if (op.kind !== 'expert_ffn' || !op.inputs.expert_offsets || tensor !== op.outputs.out) return undefined;
  const offsets = values.get(op.inputs.expert_offsets) as Int32Array;
  const used = offsets[offsets.length - 1]!;
  const d = graph.tensors.get(tensor)!.shape[1]!;
  return (i) => Math.floor(i / d) < used;
}

function shapeText(graph: Graph, t: string): string {
  return `[${graph.tensors.get(t)!.shape.join('x')}]`;
}

/**
 * Checks every kernel of a scenario's graph. Returns one row per compared
 * tensor; the caller decides how to report failures.
 */
export async function checkScenario(gpu: Gpu, scenario: Scenario, specPath: string): Promise<CheckRow[]> {
  const { graph } = scenario;
  const plan = generateGraph(graph, { specPath, target: gpu.limits });
  assertFits(gpu, graph, plan.buffers, [...plan.ops, ...plan.stateUpdates].flatMap((k) => [...k.forward, ...k.backward]));
  const ex = new Executor(gpu, specPath);
  try {
    await ex.allocate(plan.buffers);
    await ex.prepare([...plan.ops, ...plan.stateUpdates].flatMap((k) => [...k.forward, ...k.backward]));
    // The reference chain gives every op realistic inputs.
    const chain: RefValues = new Map();
    for (const [k, v] of scenario.values) chain.set(k, toRef(v));
    referenceForward(graph, chain);
    const rows: CheckRow[] = [];
    for (const k of [...plan.ops, ...plan.stateUpdates]) rows.push(...(await checkOp(ex, k, graph, chain, scenario)));
    return rows;
  } finally {
    ex.destroy();
  }
}

async function checkOp(ex: Executor, k: OpKernels, graph: Graph, chain: RefValues, scenario: Scenario): Promise<CheckRow[]> {
  const { op } = k;
  const rows: CheckRow[] = [];
  // Inputs rounded to what the GPU sees; the reference op gets exactly these.
  const local: RefValues = new Map();
  // State outputs are read too: the op updates them (loss-free bias, the decode step's key/value caches).
  const stateOutputs = Object.values(op.outputs).filter((t) => graph.tensors.get(t)!.role === 'state');
  const inputNames = [...new Set([...Object.values(op.inputs), ...stateOutputs])];
  for (const t of inputNames) {
    const v = chain.get(t);
    if (!v) throw new Error(`internal: reference chain lacks ${t}`);
    const host = toHost(v);
    ex.write(t, host);
    local.set(t, toRef(host));
  }
  await ex.run(k.forward);
  referenceOpForward(op, graph, local);
  const fwdKernels = k.forward.map((x) => x.template).join('+');
  for (const t of Object.values(op.outputs)) {
    const gpu = await ex.read(t);
    const ref = local.get(t)!;
    const c = compare(gpu, ref, rowMask(op, local, graph, t));
    const exact = ref instanceof Int32Array;
    rows.push({
      scenario: scenario.name,
      op: op.name,
      kernels: fwdKernels,
      pass: 'forward',
      tensor: t,
      shape: shapeText(graph, t),
      maxAbs: c.maxAbs,
      maxRel: exact ? c.maxAbs : c.maxRel,
      tolerance: exact ? 0 : FORWARD_TOLERANCE,
      ok: exact ? c.mismatches === 0 : c.maxRel <= FORWARD_TOLERANCE,
      ...(exact ? { mismatches: c.mismatches } : {}),
    });
  }
  if (!k.backward.length) return rows;

  // Upstream gradients: 1 for losses, seeded normals otherwise.
  const rng = Rng.forName(scenario.seed, `upstream/${op.name}`);
  const grads: RefGrads = new Map();
  const floatOuts = Object.values(op.outputs).filter((t) => graph.tensors.get(t)!.dtype === 'f32');
  const wantGrad = [...new Set(Object.values(op.inputs))].filter((t) => takesGradient(graph, t));
  ex.zero(wantGrad.map(gradName).filter((n) => ex.has(n)));
  for (const t of floatOuts) {
    const n = local.get(t)!.length;
    const up = new Float32Array(n);
    if (graph.tensors.get(t)!.role === 'loss') up.fill(1);
    else for (let i = 0; i < n; i++) up[i] = rng.normal();
    if (ex.has(gradName(t))) ex.write(gradName(t), up);
    grads.set(t, Float64Array.from(up));
  }
  await ex.run(k.backward);
  referenceOpBackward(op, graph, local, grads);
  const bwdKernels = k.backward.map((x) => x.template).join('+');
  for (const t of wantGrad) {
    const ref = grads.get(t) ?? new Float64Array(local.get(t)!.length);
    // A gradient the reference computes but no kernel writes is a missing kernel: compare against zeros.
    const gpu = ex.has(gradName(t)) ? await ex.read(gradName(t)) : new Float32Array(ref.length);
    const c = compare(gpu, ref);
    rows.push({
      scenario: scenario.name,
      op: op.name,
      kernels: bwdKernels,
      pass: 'backward',
      tensor: `d ${t}`,
      shape: shapeText(graph, t),
      maxAbs: c.maxAbs,
      maxRel: c.maxRel,
      tolerance: BACKWARD_TOLERANCE,
      ok: c.maxRel <= BACKWARD_TOLERANCE,
    });
  }
  return rows;
}
