/**
 * `moec layer`, run as a user runs it (`node bin/moec.js layer ...`, files in
 * a temporary directory), on three routers:
 *   (a) without --weights it writes y, loss.balance, loss.z, load and the
 *       seeded parameters;
 *   (b) that output passed back as --weights reproduces y bit-for-bit;
 *   (c) --backward writes grad.x and grad.<param> for every trainable
 *       parameter, matching the Float64 reference (referenceForward +
 *       referenceBackward of lowerMoeBlock with the same parameters, dy
 *       upstream of y and 1 for each loss): max |gpu − ref| / max |ref| is at
 *       most 1e-4 for y and 1e-3 for gradients;
 *   (d) bad input exits 1 with a one-line message (and a hint), never a stack
 *       trace; bad usage exits 2.
 * The GPU runs need a WebGPU adapter; without one they fail (exit 1, "no adapter").
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';
import type { ModelSpec } from '../../compiler/spec.ts';
import { initGraph } from '../../runtime/init.ts';
import { referenceBackward, referenceForward } from '../../codegen/reference/interpreter.ts';
import type { RefGrads, RefValues } from '../../codegen/reference/values.ts';
import { parseSafetensors, serializeSafetensors, type StTensor } from '../../runtime/safetensors.ts';
import { Rng } from '../reference/random.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const Y_TOLERANCE = 1e-4;
const GRAD_TOLERANCE = 1e-3;

const dir = mkdtempSync(join(tmpdir(), 'moec-layer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `moec layer ARGS` from the repository root. */
function moecLayer(...args: string[]): Run {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/moec.js'), 'layer', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Fails with the command's output when it did not exit 0. */
function expectSuccess(r: Run): void {
  expect(r.status, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
}

function spec(path: string): ModelSpec {
  const r = checkSpec(readFileSync(join(ROOT, path), 'utf8'), path);
  if (!r.spec) throw new Error(`${path}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.spec;
}

function f32(shape: number[], data: Float32Array): StTensor {
  return { dtype: 'F32', shape, data };
}

/** Writes tensors (in order) as a safetensors file in the temporary directory; returns its path. */
function writeTensors(name: string, tensors: [string, StTensor][]): string {
  const path = join(dir, name);
  writeFileSync(path, serializeSafetensors(tensors));
  return path;
}

function readTensors(path: string): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  return parseSafetensors(readFileSync(path), path);
}

/** n normals, rounded to f32. */
function normals(rng: Rng, n: number): Float32Array {
  return Float32Array.from(rng.normals(n));
}

/** max |actual − expected| / max |expected| (max |expected| floored at 1e-12). */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let err = 0;
  let scale = 1e-12;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return err / scale;
}

function bits(t: StTensor | undefined): Uint8Array {
  expect(t).toBeDefined();
  return new Uint8Array(t!.data.buffer, t!.data.byteOffset, t!.data.byteLength);
}

/** The tensors a layer takes besides x: params, frozen weights, state. */
function weightsOf(graph: Graph) {
  return [...graph.tensors.values()].filter((t) => t.role === 'param' || t.role === 'frozen' || t.role === 'state');
}

/** `block`: the first MoE block, which moec layer takes by default. */
const ROUTERS = [
  { path: 'specs/gshard.moe', batch: 2, seq: 3, block: 1 }, // top-2 token choice with capacity (drops tokens) and a balance loss
  { path: 'specs/mixture_of_tokens.moe', batch: 8, seq: 2, block: 0 }, // batch a multiple of the group, 8
  { path: 'specs/expert_choice.moe', batch: 2, seq: 3, block: 0 },
  // Routing primitives: global balance and a gated shared expert; ReLU routing (a threshold) with an L1 loss.
  { path: 'specs/routing/qwen_moe.moe', batch: 2, seq: 3, block: 0 },
  { path: 'specs/routing/remoe.moe', batch: 2, seq: 3, block: 0 },
];

describe.each(ROUTERS)('$path at batch $batch, seq $seq', ({ path, batch, seq, block }) => {
  const s = spec(path);
  const E = s.ffn.kind === 'moe' ? s.ffn.experts.count : 0;
  const graph = lowerMoeBlock(s, { batch, seq });
  const stem = path.replace(/^specs\/|\.moe$/g, '').replace(/\//g, '_');
  const rng = new Rng(7);
  const x = normals(rng, batch * seq * s.width);
  const dy = normals(rng, batch * seq * s.width);
  const input = writeTensors(`${stem}.in.safetensors`, [
    ['x', f32([batch, seq, s.width], x)],
    ['dy', f32([batch, seq, s.width], dy)],
  ]);
  const first = join(dir, `${stem}.a.safetensors`);
  const second = join(dir, `${stem}.b.safetensors`);
  let a: Map<string, StTensor>;
  let aMetadata: Record<string, string>;
  let b: Map<string, StTensor>;
  /** The Float64 reference with the parameters moec wrote in (a). */
  let ref: RefValues;
  let refGrads: RefGrads;

  beforeAll(() => {
    const r1 = moecLayer(path, '--input', input, '--out', first);
    expectSuccess(r1);
    const losses = ['loss.balance', 'loss.z', ...graph.losses.filter((l) => l !== 'loss.balance' && l !== 'loss.z')];
    expect(r1.stdout).toContain(`wrote ${first}: ${['y', ...losses, 'load'].join(', ')}`);
    ({ tensors: a, metadata: aMetadata } = readTensors(first));
    expectSuccess(moecLayer(path, '--input', input, '--weights', first, '--backward', '--out', second));
    b = readTensors(second).tensors;

    ref = new Map([['x', Float64Array.from(x)]]);
    for (const t of weightsOf(graph)) ref.set(t.name, Float64Array.from(a.get(t.name)!.data));
    referenceForward(graph, ref);
    refGrads = new Map([[graph.output, Float64Array.from(dy)]]);
    referenceBackward(graph, ref, refGrads);
  }, 600_000);

  it('(a) without --weights: y, the losses, load and the seeded parameters', () => {
    // loss.balance and loss.z always, then every other loss of the layer under its own name.
    const others = graph.losses.filter((l) => l !== 'loss.balance' && l !== 'loss.z');
    const expected = ['y', 'loss.balance', 'loss.z', ...others, 'load', ...weightsOf(graph).map((t) => t.name)];
    expect([...a.keys()]).toEqual(expected);
    expect(aMetadata).toEqual({ spec: path, block: String(block), seed: '1' });
    expect(a.get('y')!.shape).toEqual([batch, seq, s.width]);
    expect(a.get('loss.balance')!.shape).toEqual([]);
    expect(a.get('loss.z')!.shape).toEqual([]);
    expect(a.get('load')!.shape).toEqual([E]);
    const seeded = initGraph(graph, 1);
    for (const t of weightsOf(graph)) {
      expect(a.get(t.name)!.shape, t.name).toEqual(t.shape);
      expect(bits(a.get(t.name)), t.name).toEqual(new Uint8Array(seeded.get(t.name)!.buffer));
    }
  });

  it('(a) y, the losses and load match the reference', () => {
    expect(relativeError(a.get('y')!.data, ref.get(graph.output)!)).toBeLessThanOrEqual(Y_TOLERANCE);
    for (const name of new Set(['loss.balance', 'loss.z', ...graph.losses])) {
      const expected = graph.tensors.has(name) ? ref.get(name)![0]! : 0;
      expect(Math.abs(a.get(name)!.data[0]! - expected), name).toBeLessThanOrEqual(Y_TOLERANCE * Math.abs(expected));
    }
    // Token and expert choice: kept assignments per expert; mixing: slot rows per expert.
    const load = ref.get('load') ?? new Int32Array(E).fill(graph.tensors.get('slots_in')!.shape[0]! / E);
    expect(Array.from(a.get('load')!.data)).toEqual(Array.from(load));
  });

  it('(b) the output passed back as --weights reproduces y bit-for-bit', () => {
    expect(bits(b.get('y'))).toEqual(bits(a.get('y')));
    for (const name of new Set(['loss.balance', 'loss.z', ...graph.losses, 'load'])) expect(bits(b.get(name)), name).toEqual(bits(a.get(name)));
    // With --weights, the parameters are not written again.
    for (const t of weightsOf(graph)) expect(b.has(t.name), t.name).toBe(false);
  });

  it('(c) --backward: grad.x and grad.<param> for every trainable parameter match the reference', () => {
    const params = [...graph.tensors.values()].filter((t) => t.role === 'param');
    expect(params.length).toBeGreaterThan(0);
    expect([...b.keys()].filter((k) => k.startsWith('grad.'))).toEqual(['grad.x', ...params.map((t) => `grad.${t.name}`)]);
    expect(b.get('grad.x')!.shape).toEqual([batch, seq, s.width]);
    expect(relativeError(b.get('grad.x')!.data, refGrads.get('x')!), 'grad.x').toBeLessThanOrEqual(GRAD_TOLERANCE);
    for (const t of params) {
      const name = `grad.${t.name}`;
      expect(b.get(name)!.shape, name).toEqual(t.shape);
      const expected = refGrads.get(t.name)!;
      expect(Math.max(...Array.from(expected, Math.abs)), `${name} is not all zero`).toBeGreaterThan(0);
      expect(relativeError(b.get(name)!.data, expected), name).toBeLessThanOrEqual(GRAD_TOLERANCE);
    }
  });
});

describe('bad input', () => {
  const gshard = spec('specs/gshard.moe');
  const W = gshard.width;
  const out = join(dir, 'never.safetensors');
  const x = (batch: number, seq: number, width = W) => f32([batch, seq, width], new Float32Array(batch * seq * width).fill(0.5));
  const goodInput = writeTensors('good.in.safetensors', [['x', x(2, 3)]]);
  /** The parameters moec would initialise, as a layer file. */
  const weights = (): [string, StTensor][] => {
    const graph = lowerMoeBlock(gshard, { batch: 2, seq: 3 });
    const init = initGraph(graph, 1);
    return weightsOf(graph).map((t) => [t.name, f32([...t.shape], init.get(t.name)!)]);
  };

  /** Runs moec layer; expects exit 1, nothing on stdout, and stderr = "moec: MESSAGE" plus at most a hint line. */
  function expectUserError(args: string[], message: string): string {
    const r = moecLayer(...args);
    expect(r.status, `stderr: ${r.stderr}`).toBe(1);
    expect(r.stdout).toBe('');
    // The spec's own warnings (gshard: W301, capacity with top-2) may come first.
    const all = r.stderr.trimEnd().split('\n');
    const first = all.findIndex((l) => l.startsWith('moec: '));
    expect(all.slice(0, first).filter((l) => / error E\d+/.test(l)), r.stderr).toEqual([]);
    const lines = all.slice(first);
    expect(lines.length, r.stderr).toBeLessThanOrEqual(2);
    expect(lines[0]).toBe(`moec: ${message}`);
    if (lines[1] !== undefined) expect(lines[1]).toMatch(/^ {2}hint: \S/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    return r.stderr;
  }

  it('an input without x', () => {
    const input = writeTensors('no_x.safetensors', [['dy', x(2, 3)]]);
    expectUserError([`specs/gshard.moe`, '--input', input, '--out', out], `${input} has no tensor \`x\``);
  });

  it('x with the wrong width', () => {
    const input = writeTensors('narrow.safetensors', [['x', x(2, 3, W / 2)]]);
    const stderr = expectUserError(['specs/gshard.moe', '--input', input, '--out', out], `${input}: \`x\` has shape [2, 3, ${W / 2}]; expected [2, 3, ${W}]`);
    expect(stderr).toContain('hint: x is [batch, seq, width]');
  });

  it('x that is not [batch, seq, width]', () => {
    const input = writeTensors('flat.safetensors', [['x', f32([6, W], new Float32Array(6 * W))]]);
    expectUserError(['specs/gshard.moe', '--input', input, '--out', out], `${input}: \`x\` has shape [6, ${W}]; expected [batch, seq, ${W}]`);
  });

  it('x with no tokens', () => {
    const input = writeTensors('empty.safetensors', [['x', x(0, 3)]]);
    expectUserError(['specs/gshard.moe', '--input', input, '--out', out], `${input}: \`x\` has shape [0, 3, ${W}]; batch and seq must be at least 1`);
  });

  it('x of dtype F16', () => {
    // serializeSafetensors writes only F32 and I32: this file is built by hand, as PyTorch would write a half tensor.
    const count = 2 * 3 * W;
    const header = new TextEncoder().encode(JSON.stringify({ x: { dtype: 'F16', shape: [2, 3, W], data_offsets: [0, 2 * count] } }));
    const bytes = new Uint8Array(8 + header.length + 2 * count);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    const input = join(dir, 'half.safetensors');
    writeFileSync(input, bytes);
    const stderr = expectUserError(['specs/gshard.moe', '--input', input, '--out', out], `${input}: tensor \`x\` is F16; moec reads float32 (F32) tensors — convert with tensor.float() before saving`);
    expect(stderr).toContain('hint: write it with safetensors.torch.save_file');
  });

  it('a truncated input file', () => {
    const whole = serializeSafetensors([['x', x(2, 3)]]);
    const input = join(dir, 'truncated.safetensors');
    writeFileSync(input, whole.subarray(0, whole.length - 10));
    expectUserError(['specs/gshard.moe', '--input', input, '--out', out], `${input}: tensor \`x\` lies past the end of the file (offset ${2 * 3 * W * 4} of ${2 * 3 * W * 4 - 10} data bytes); the file is truncated`);
  });

  it('a --weights file with a misspelled tensor name', () => {
    const file = writeTensors(
      'misspelled.safetensors',
      weights().map(([n, t]) => [n === 'router.weight' ? 'router.weigth' : n, t]),
    );
    const stderr = expectUserError(['specs/gshard.moe', '--input', goodInput, '--weights', file, '--out', out], `${file} has tensors this layer does not use: router.weigth`);
    expect(stderr).toContain("hint: this layer's parameters: router.weight, experts.up.weight, experts.down.weight");
  });

  it('a --weights file without a parameter names it as the layer calls it', () => {
    const file = writeTensors(
      'incomplete.safetensors',
      weights().filter(([n]) => n !== 'experts.down.weight'),
    );
    expectUserError(['specs/gshard.moe', '--input', goodInput, '--weights', file, '--out', out], `${file} has no tensor \`experts.down.weight\``);
  });

  it('a --weights tensor with the wrong shape', () => {
    const file = writeTensors(
      'transposed.safetensors',
      weights().map(([n, t]): [string, StTensor] => (n === 'experts.up.weight' ? [n, { ...t, shape: [t.shape[0]!, t.shape[2]!, t.shape[1]!] }] : [n, t])),
    );
    const [, up] = weights().find(([n]) => n === 'experts.up.weight')!;
    const [e, h, d] = up.shape;
    expectUserError(['specs/gshard.moe', '--input', goodInput, '--weights', file, '--out', out], `${file}: \`experts.up.weight\` has shape [${e}, ${d}, ${h}]; expected [${e}, ${h}, ${d}]`);
  });

  it('--layer pointing at a dense block', () => {
    // gshard has MoE every 2 blocks: block 0 is dense, block 1 is MoE.
    const stderr = expectUserError(['specs/gshard.moe', '--input', goodInput, '--layer', '0', '--out', out], 'block 0 of specs/gshard.moe is not an MoE block');
    expect(stderr).toContain('hint: MoE blocks: 1');
  });

  it('a batch that is not a multiple of the Mixture of Tokens group', () => {
    const input = writeTensors('batch4.safetensors', [['x', x(4, 2)]]);
    expectUserError(['specs/mixture_of_tokens.moe', '--input', input, '--out', out], 'batch 4 of `x` is not a multiple of the Mixture of Tokens group 8');
  });

  it('a missing --input is a usage error (exit 2)', () => {
    const r = moecLayer('specs/gshard.moe', '--out', out);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("error: required option '--input <file>' not specified");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
