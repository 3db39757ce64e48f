/**
 * `moec layer SPEC --input IN --out OUT`: runs one MoE layer of a spec on
 * WebGPU so its numbers can be checked against any other framework
 * (docs/ROUTING.md lists the tensor names and conventions).
 */
import { writeFileSync } from 'node:fs';
import type { Graph } from '../compiler/ir.ts';
import { numel } from '../compiler/ir.ts';
import { lowerMoeBlock } from '../compiler/lower.ts';
import { moeBlocks, moeLayerOf, type ModelSpec } from '../compiler/spec.ts';
import type { HostArray } from '../runtime/executor.ts';
import { sharedGpu } from '../runtime/gpu.ts';
import { checkFits } from './device_fit_report.ts';
import { GraphRunner } from '../runtime/graph_runner.ts';
import { initGraph } from '../runtime/init.ts';
import { readSafetensors, SafetensorsError, serializeSafetensors, type StTensor } from '../runtime/safetensors.ts';
import { requireSpec } from './load_spec.ts';
import { UserError } from './user_error.ts';

export interface LayerOptions {
  input: string;
  out: string;
  weights?: string;
  layer?: number;
  backward?: boolean;
  seed: number;
}

/** The MoE block the layer is taken from: --layer K, or the first MoE block. */
function pickBlock(spec: ModelSpec, requested: number | undefined): number {
  const moe = moeBlocks(spec);
  if (!moe.length) throw new UserError(`${spec.source.path} has no MoE layer`, 'moec layer runs an MoE layer; this spec is dense');
  if (requested === undefined) return moe[0]!;
  if (!moe.includes(requested)) throw new UserError(`block ${requested} of ${spec.source.path} is not an MoE block`, `MoE blocks: ${moe.join(', ')}`);
  return requested;
}

function readTensors(path: string): Map<string, StTensor> {
  try {
    return readSafetensors(path).tensors;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new UserError(e.message, 'write it with safetensors.torch.save_file({...}, path), float32, row-major');
    throw e;
  }
}

function expectShape(file: string, name: string, t: StTensor | undefined, shape: readonly number[]): Float32Array {
  if (!t) throw new UserError(`${file} has no tensor \`${name}\``, `expected \`${name}\` with shape [${shape.join(', ')}]`);
  if (t.dtype !== 'F32') throw new UserError(`${file}: \`${name}\` is ${t.dtype}; expected F32`);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new UserError(`${file}: \`${name}\` has shape [${t.shape.join(', ')}]; expected [${shape.join(', ')}]`, name === 'x' ? 'x is [batch, seq, width] with width from the spec' : undefined);
  }
  return t.data as Float32Array;
}

/** Parameter values from --weights (layer names, or a model checkpoint's `blocks.K.moe.` names) or the seed. */
function parameters(graph: Graph, opts: LayerOptions, block: number): Map<string, HostArray> {
  const params = [...graph.tensors.values()].filter((t) => t.role === 'param' || t.role === 'frozen' || t.role === 'state');
  if (!opts.weights) return initGraph(graph, opts.seed);
  const file = readTensors(opts.weights);
  // A layer file (as moec layer writes) must not hold misspelled names; a model checkpoint holds other layers too.
  // Checked first, so that a misspelled name is reported as such rather than as a missing tensor.
  const isCheckpoint = [...file.keys()].some((k) => k.startsWith('blocks.'));
  const outputs = (k: string) => k === 'x' || k === 'y' || k === 'dy' || k === 'load' || k.startsWith('loss.') || k.startsWith('grad.');
  const known = new Set(params.map((t) => t.name));
  const stray = isCheckpoint ? [] : [...file.keys()].filter((k) => !known.has(k) && !outputs(k));
  if (stray.length) throw new UserError(`${opts.weights} has tensors this layer does not use: ${stray.slice(0, 5).join(', ')}${stray.length > 5 ? ', …' : ''}`, `this layer's parameters: ${params.map((p) => p.name).join(', ')}`);
  const prefix = `blocks.${block}.moe.`;
  const out = new Map<string, HostArray>();
  for (const t of params) {
    const key = file.has(t.name) || !isCheckpoint ? t.name : prefix + t.name;
    const found = file.get(key);
    // The loss-free balancing bias is state, not a weight: absent means zero.
    if (!found && t.role === 'state') out.set(t.name, new Float32Array(numel(t.shape)));
    else out.set(t.name, expectShape(opts.weights, key, found, t.shape));
  }
  return out;
}

export async function layerCommand(path: string, opts: LayerOptions): Promise<void> {
  const spec = requireSpec(path);
  const block = pickBlock(spec, opts.layer);
  const input = readTensors(opts.input);
  const xT = input.get('x');
  if (!xT) throw new UserError(`${opts.input} has no tensor \`x\``, 'x is the layer input, [batch, seq, width] float32');
  if (xT.shape.length !== 3) throw new UserError(`${opts.input}: \`x\` has shape [${xT.shape.join(', ')}]; expected [batch, seq, ${spec.width}]`);
  const [batch, seq] = xT.shape as [number, number, number];
  if (batch < 1 || seq < 1) throw new UserError(`${opts.input}: \`x\` has shape [${xT.shape.join(', ')}]; batch and seq must be at least 1`);
  const x = expectShape(opts.input, 'x', xT, [batch, seq, spec.width]);
  const routing = moeLayerOf(spec, block)!.routing;
  if (routing.combine === 'mix' && typeof routing.group === 'number' && batch % routing.group !== 0) {
    throw new UserError(`batch ${batch} of \`x\` is not a multiple of the Mixture of Tokens group ${routing.group}`, 'groups take one token from each of G sequences');
  }
  const dy = opts.backward ? expectShape(opts.input, 'dy', input.get('dy'), [batch, seq, spec.width]) : undefined;

  const graph = lowerMoeBlock(spec, { batch, seq }, block);
  const params = parameters(graph, opts, block);
  const gpu = await sharedGpu();
  const runner = await checkFits(spec, () => GraphRunner.create(gpu, graph, path));
  try {
    runner.setValues(new Map([...params, ['x', x]]));
    await runner.forward();
    const out: [string, StTensor][] = [];
    const f32 = async (name: string) => (await runner.read(name)) as Float32Array;
    out.push(['y', { dtype: 'F32', shape: [batch, seq, spec.width], data: await f32(graph.output) }]);
    // loss.balance and loss.z always (0 when off), then every other loss of the layer under its own name.
    const always = ['loss.balance', 'loss.z'];
    for (const name of always) out.push([name, { dtype: 'F32', shape: [], data: graph.tensors.has(name) ? await f32(name) : new Float32Array(1) }]);
    for (const name of graph.losses.filter((l) => !always.includes(l))) out.push([name, { dtype: 'F32', shape: [], data: await f32(name) }]);
    const load = await loadOf(runner, graph, spec, block);
    out.push(['load', { dtype: 'F32', shape: [load.length], data: load }]);
    if (dy) {
      await runner.backward(new Map([[graph.output, dy]]));
      out.push(['grad.x', { dtype: 'F32', shape: [batch, seq, spec.width], data: await runner.readGrad('x') }]);
      for (const t of graph.tensors.values()) {
        if (t.role === 'param') out.push([`grad.${t.name}`, { dtype: 'F32', shape: t.shape, data: await runner.readGrad(t.name) }]);
      }
    }
    if (!opts.weights) {
      for (const t of graph.tensors.values()) {
        if (t.role === 'param' || t.role === 'frozen' || t.role === 'state') out.push([t.name, { dtype: 'F32', shape: t.shape, data: params.get(t.name) as Float32Array }]);
      }
    }
    writeFileSync(opts.out, serializeSafetensors(out, { spec: path, block: String(block), seed: String(opts.seed) }));
    process.stdout.write(`wrote ${opts.out}: ${out.map(([n]) => n).join(', ')}\n`);
  } finally {
    runner.destroy();
  }
}

/** Assignments kept per routed expert; mixing routers: slot rows per expert. */
async function loadOf(runner: GraphRunner, graph: Graph, spec: ModelSpec, block: number): Promise<Float32Array> {
  if (graph.tensors.has('load')) return Float32Array.from((await runner.read('load')) as Int32Array);
  const E = moeLayerOf(spec, block)?.experts.count ?? 0;
  const rows = graph.tensors.get('slots_in')?.shape[0] ?? 0;
  return new Float32Array(E).fill(E ? rows / E : 0);
}
