/**
 * Nothing changed, bit for bit: for every shipped spec, the numbers recorded
 * in tests/fixtures/bit_exact.json (taken before the typed op registry
 * replaced the untyped IR boundary) are reproduced exactly:
 * - the Float64 reference's forward values and gradients of the layer and
 *   the whole model (adapter-independent: compared everywhere);
 * - the WebGPU forward values and gradients of the same graphs, and three
 *   training steps of the generated harness (per-step loss and gradient norm
 *   as written to metrics.jsonl, and every tensor of the final checkpoint).
 *
 * Each tensor is compared through a SHA-256 of its bytes, so a mismatch names
 * the tensor. GPU numbers are bit-exact only on the same adapter (another
 * driver may fuse or order f32 operations differently), so they are kept per
 * adapter description; on an adapter with no recorded entry this test fails
 * and says how to record one. The suite runs kernel tests with lavapipe's
 * 128-bit vectors (vitest.config.ts), where the adapter calls itself
 * "…-128-bits-"; its entry is the 256-bit one, copied after this test was run
 * against it under 128-bit vectors and every digest matched. Record with MOEC_RECORD_FIXTURE=1 (only on a
 * commit whose numbers are known good: it overwrites the entry).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir.ts';
import { numel } from '../../compiler/ir.ts';
import { lowerModel, lowerMoeBlock } from '../../compiler/lower.ts';
import type { ModelSpec } from '../../compiler/spec.ts';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../runtime/checkpoint.ts';
import { SyntheticCorpus } from '../../runtime/data/synthetic.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { GraphRunner } from '../../runtime/graph_runner.ts';
import { referenceBackward, referenceForward } from '../../codegen/reference/interpreter.ts';
import type { RefGrads, RefValues } from '../../codegen/reference/values.ts';
import { Rng } from '../../runtime/rng.ts';
import { randomValues } from '../../runtime/test_scenarios.ts';
import { train } from '../../runtime/trainer.ts';
import { compileModel, rawNumbers, smallSpec, smallTrain, TempDirs } from '../training/helpers.ts';

const FIXTURE = 'tests/fixtures/bit_exact.json';
const RECORD = process.env.MOEC_RECORD_FIXTURE === '1';

/** name → sha256 (hex, first 16 characters) of the tensor's bytes. */
type Digests = Record<string, string>;
interface Fixture {
  reference: Record<string, Digests>;
  gpu: Record<string, Record<string, Digests>>;
}

const fixture: Fixture = existsSync(FIXTURE) ? JSON.parse(readFileSync(FIXTURE, 'utf8')) : { reference: {}, gpu: {} };
const tmp = new TempDirs();
afterAll(() => {
  tmp.cleanup();
  if (RECORD) writeFileSync(FIXTURE, `${JSON.stringify(fixture, null, 1)}\n`);
});

function digest(a: ArrayBufferView | ArrayLike<number>): string {
  const view = ArrayBuffer.isView(a) ? a : Float64Array.from(a as ArrayLike<number>);
  return createHash('sha256').update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)).digest('hex').slice(0, 16);
}

const specs = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();
const LAYER = { batch: 8, seq: 16 };

function graphsOf(spec: ModelSpec): [string, Graph][] {
  const out: [string, Graph][] = [];
  if (spec.ffn.kind === 'moe') {
    const G = spec.ffn.routing.combine === 'mix' && typeof spec.ffn.routing.group === 'number' ? spec.ffn.routing.group : 1;
    out.push(['layer', lowerMoeBlock(spec, { batch: Math.ceil(LAYER.batch / G) * G, seq: LAYER.seq })]);
  }
  const G = spec.ffn.kind === 'moe' && spec.ffn.routing.combine === 'mix' && typeof spec.ffn.routing.group === 'number' ? spec.ffn.routing.group : 1;
  out.push(['model', lowerModel(spec, { batch: Math.ceil(2 / G) * G, seq: 7 })]);
  return out;
}

function upstream(graph: Graph, seed: number): Float32Array {
  const rng = Rng.forName(seed, 'dy');
  return Float32Array.from({ length: numel(graph.tensors.get(graph.output)!.shape) }, () => rng.normal());
}

function referenceDigests(graph: Graph, seed: number, vocab: number): Digests {
  const values: RefValues = new Map();
  for (const [k, v] of randomValues(graph, seed, vocab)) values.set(k, v instanceof Int32Array ? Int32Array.from(v) : Float64Array.from(v));
  referenceForward(graph, values);
  const grads: RefGrads = new Map([[graph.output, Float64Array.from(upstream(graph, seed))]]);
  referenceBackward(graph, values, grads);
  const out: Digests = {};
  for (const [k, v] of [...values].sort(([a], [b]) => (a < b ? -1 : 1))) out[k] = digest(v);
  for (const [k, v] of [...grads].sort(([a], [b]) => (a < b ? -1 : 1))) out[`grad/${k}`] = digest(v);
  return out;
}

async function gpuDigests(graph: Graph, seed: number, vocab: number, path: string): Promise<Digests> {
  const runner = await GraphRunner.create(await sharedGpu(), graph, path);
  try {
    runner.setValues(randomValues(graph, seed, vocab));
    await runner.forward();
    await runner.backward(new Map([[graph.output, upstream(graph, seed)]]));
    const out: Digests = {};
    for (const t of [...graph.tensors.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (t.role === 'activation' || t.role === 'index' || t.role === 'loss') {
        if (runner.executor.has(t.name)) out[t.name] = digest(await runner.read(t.name));
      }
      if (t.dtype === 'f32' && t.role !== 'frozen' && t.role !== 'state') out[`grad/${t.name}`] = digest(await runner.readGrad(t.name));
    }
    return out;
  } finally {
    runner.destroy();
  }
}

async function trainingDigests(file: string): Promise<Digests> {
  const spec = smallSpec(file, smallTrain({ batch: 8, steps: 3, evalEvery: 3, checkpointEvery: 3 }), { context: 16 });
  const dir = tmp.make(`moec-bit-exact-${spec.name}-`);
  const { gpu, modelDir } = await compileModel(spec, dir);
  await train({ spec, modelDir, outDir: dir, data: new SyntheticCorpus(spec.train.seed), gpu });
  const out: Digests = {
    loss: rawNumbers(join(dir, 'metrics.jsonl'), 'loss').join(' '),
    gradNorm: rawNumbers(join(dir, 'metrics.jsonl'), 'gradNorm').join(' '),
  };
  const ckpt = loadCheckpoint(join(dir, CHECKPOINT_FILE));
  for (const [k, t] of [...ckpt.tensors].sort(([a], [b]) => (a < b ? -1 : 1))) out[`checkpoint/${k}`] = digest(t.data);
  return out;
}

function expectSame(actual: Digests, expected: Digests | undefined, what: string): void {
  if (RECORD) return;
  expect(expected, `${what}: no recorded entry in ${FIXTURE}`).toBeDefined();
  const differ = Object.keys({ ...expected, ...actual }).filter((k) => actual[k] !== expected![k]);
  expect(differ, `${what}: tensors whose bytes changed`).toEqual([]);
}

describe('every shipped spec gives the recorded numbers, bit for bit', () => {
  for (const file of specs) {
    it(`${file}: Float64 reference, layer and model`, () => {
      const path = `specs/${file}`;
      const { spec } = checkSpec(readFileSync(path, 'utf8'), path);
      for (const [what, graph] of graphsOf(spec!)) {
        const key = `${file} ${what}`;
        const got = referenceDigests(graph, 5, spec!.vocab);
        if (RECORD) fixture.reference[key] = got;
        expectSame(got, fixture.reference[key], `reference ${key}`);
      }
    });

    it(`${file}: WebGPU layer, model and three training steps`, async () => {
      const path = `specs/${file}`;
      const { spec } = checkSpec(readFileSync(path, 'utf8'), path);
      const adapter = (await sharedGpu()).adapterName;
      if (RECORD) fixture.gpu[adapter] ??= {};
      const entry = fixture.gpu[adapter]!;
      expect(entry, `no GPU numbers recorded for adapter "${adapter}" (recorded: ${Object.keys(fixture.gpu).join('; ')}); record them on a known-good commit with MOEC_RECORD_FIXTURE=1`).toBeDefined();
      for (const [what, graph] of graphsOf(spec!)) {
        const key = `${file} ${what}`;
        const got = await gpuDigests(graph, 5, spec!.vocab, path);
        if (RECORD) entry[key] = got;
        expectSame(got, entry[key], `gpu ${key}`);
      }
      const got = await trainingDigests(file);
      if (RECORD) entry[`${file} train`] = got;
      expectSame(got, entry[`${file} train`], `gpu ${file} train`);
    });
  }
});
