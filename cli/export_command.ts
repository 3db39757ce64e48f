/**
 * `moec export SPEC --target pytorch -o DIR [--format hf] [--checkpoint FILE]`:
 * the spec as a self-contained PyTorch package (codegen/pytorch), and with
 * `--format hf` also as a Hugging Face folder of the model family it
 * belongs to (config.json + model.safetensors), its weights from a moec
 * checkpoint or the spec's seeded initialisation.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lowerModel } from '../compiler/lower.ts';
import type { ModelSpec } from '../compiler/spec.ts';
import { exportPytorch } from '../codegen/pytorch/export.ts';
import { hfConfigJson, hfFamilyOf, hfPlan } from '../codegen/pytorch/hf_format.ts';
import { CheckpointError, loadCheckpoint, writeAtomic } from '../runtime/checkpoint.ts';
import { MOBY_DICK, mobyDickText } from '../runtime/data/moby_dick.ts';
import { initGraph } from '../runtime/init.ts';
import { serializeSafetensors, type StTensor } from '../runtime/safetensors.ts';
import { requireSpec } from './load_spec.ts';
import { findTorchPython, TORCH_INSTALL } from './torch_python.ts';
import { UserError } from './user_error.ts';

export interface ExportOptions {
  readonly target: string;
  readonly out: string;
  readonly format?: string;
  readonly checkpoint?: string;
}

const TARGETS = ['pytorch'];
const FORMATS = ['moec', 'hf'];

/** Runs `moec export`. */
export function exportCommand(path: string, opts: ExportOptions): void {
  if (!TARGETS.includes(opts.target)) throw new UserError(`unknown --target ${opts.target}`, `targets: ${TARGETS.join(', ')}`, 2);
  const format = opts.format ?? 'moec';
  if (!FORMATS.includes(format)) throw new UserError(`unknown --format ${format}`, 'moec (the package alone) or hf (also a Hugging Face folder of the model family the spec belongs to)', 2);
  const spec = requireSpec(path);
  const dir = resolve(opts.out);
  if (existsSync(dir) && !existsSync(join(dir, 'model.py')) && readdirSync(dir).length > 0) {
    throw new UserError(`${opts.out} exists and is not an export (no model.py); refusing to write into it`, 'pass a new folder, or an earlier export of the same spec to overwrite');
  }
  // Decide the family before writing anything, so a refusal leaves no half-written folder.
  const family = format === 'hf' ? hfFamilyOf(spec) : undefined;
  if (family && 'problems' in family) {
    throw new UserError(`${path} is not an instance of a model family with a Hugging Face format:\n${family.problems.map((p) => `    - ${p}`).join('\n')}`, family.hint);
  }
  const weights = format === 'hf' ? modelWeights(spec, opts.checkpoint) : undefined;
  const files = exportPytorch(spec, dir, spec.train.data.kind === MOBY_DICK ? { name: MOBY_DICK, bytes: mobyDickText() } : undefined);
  process.stdout.write(`wrote ${files.join(', ')} in ${dir}\n`);
  if (family && weights) {
    const plan = hfPlan(spec, family.family);
    const hfDir = join(dir, 'hf');
    const tensors = new Map<string, StTensor>();
    const get = (name: string) => {
      const t = weights.get(name);
      if (!t) throw new Error(`internal: no tensor ${name} for the HF export`);
      return t;
    };
    for (const t of plan.tensors) tensors.set(t.name, { dtype: 'F32', shape: t.shape, data: t.make(get) });
    writeFileIn(hfDir, 'config.json', hfConfigJson(plan));
    writeAtomic(join(hfDir, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
    process.stdout.write(`wrote ${hfDir}/config.json and model.safetensors: ${plan.config.architectures as string} (${plan.tensors.length} tensors, weights from ${opts.checkpoint ?? `the seeded initialisation, seed ${spec.train.seed}`}); tokens are UTF-8 bytes (vocabulary ${spec.vocab})\n`);
  }
  const python = findTorchPython();
  if (python) process.stdout.write(`next: cd ${opts.out} && ${python} train.py   (see README.md there)\n`);
  else process.stdout.write(`next: install PyTorch (Debian 12, as root: ${TORCH_INSTALL}; or any PyTorch 1.13/2.x), then cd ${opts.out} && python3 train.py\n`);
}

/** The model's tensors by moec name: from a checkpoint of this spec, or initialised. */
function modelWeights(spec: ModelSpec, checkpoint: string | undefined): Map<string, Float32Array> {
  const graph = lowerModel(spec);
  if (!checkpoint) return initGraph(graph, spec.train.seed);
  let ck;
  try {
    ck = loadCheckpoint(checkpoint);
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(e.message, 'pass a checkpoint.safetensors written by moec train (or by an export\'s train.py)');
    throw e;
  }
  const out = new Map<string, Float32Array>();
  for (const [name, t] of graph.tensors) {
    if (t.role !== 'param' && t.role !== 'frozen' && t.role !== 'state') continue;
    const v = ck.tensors.get(name);
    if (!v) throw new UserError(`${checkpoint} has no tensor ${name}; it was not written for this spec`, `it was written for ${ck.meta.spec.path}`);
    const want = t.shape.reduce((a, b) => a * b, 1);
    if (v.data.length !== want || !(v.data instanceof Float32Array)) throw new UserError(`${checkpoint}: ${name} has ${v.data.length} values, this spec's has ${want}`, `it was written for ${ck.meta.spec.path}, a different shape of model`);
    out.set(name, v.data);
  }
  return out;
}

function writeFileIn(dir: string, name: string, text: string): void {
  mkdirSync(dir, { recursive: true });
  writeAtomic(join(dir, name), Buffer.from(text));
}
