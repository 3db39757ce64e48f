/**
 * The PyTorch export computes what moec's kernels compute: for every shipped
 * spec (specs/ and the routing examples in specs/routing/), the exported
 * MoE layer and the whole exported model, forward and backward, on the
 * same weights and inputs as the WebGPU kernels, equal them within 1e-4
 * (layer) and 1e-3 (model), |a − b| ≤ tol·(1 + |b|) per element. The
 * objective is Σ y·dy plus every loss, on both sides. All specs' Python runs
 * go to one process (torch's import is the slow part).
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../../compiler/ir.ts';
import { lowerModel, lowerMoeBlock } from '../../compiler/lower.ts';
import { mixingBatch, moeBlocks, type ModelSpec } from '../../compiler/spec.ts';
import type { HostArray } from '../../runtime/executor.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { GraphRunner } from '../../runtime/graph_runner.ts';
import { Rng } from '../../runtime/rng.ts';
import { readSafetensors } from '../../runtime/safetensors.ts';
import { randomValues } from '../../runtime/test_scenarios.ts';
import { exportToTemp, runPython, specAt, writeTensors } from './pytorch.ts';

const files = [
  ...readdirSync('specs').filter((f) => f.endsWith('.moe')).map((f) => `specs/${f}`),
  ...readdirSync('specs/routing').filter((f) => f.endsWith('.moe')).map((f) => `specs/routing/${f}`),
].sort();

interface Case {
  readonly file: string;
  readonly what: 'layer' | 'model';
  readonly gpu: Map<string, Float32Array>;
  readonly out: string;
}

/** Runs a graph on WebGPU: its output and losses, and the gradients of x (layer) and every parameter. */
async function onGpu(graph: Graph, path: string, values: Map<string, HostArray>, dy: Float32Array): Promise<Map<string, Float32Array>> {
  const runner = await GraphRunner.create(await sharedGpu(), graph, path);
  try {
    runner.setValues(values);
    await runner.forward();
    await runner.backward(new Map([[graph.output, dy]]));
    const out = new Map<string, Float32Array>();
    out.set('output', (await runner.read(graph.output)) as Float32Array);
    for (const l of graph.losses) out.set(l, (await runner.read(l)) as Float32Array);
    for (const t of graph.tensors.values()) if (t.role === 'param' || t.name === 'x') out.set(`grad/${t.name}`, await runner.readGrad(t.name));
    return out;
  } finally {
    runner.destroy();
  }
}

function shapeOf(graph: Graph) {
  return (name: string) => (name === 'dy' ? graph.tensors.get(graph.output)!.shape : graph.tensors.get(name)!.shape);
}

/** Prepares the GPU results and the Python job of one graph. */
async function prepare(spec: ModelSpec, file: string, dir: string, work: string, what: 'layer' | 'model', jobs: object[], cases: Case[]): Promise<void> {
  const batch = Math.max(2, mixingBatch(spec));
  const seq = Math.min(spec.context, 16);
  const block = moeBlocks(spec)[0] ?? 0;
  const graph = what === 'layer' ? lowerMoeBlock(spec, { batch, seq }, block) : lowerModel(spec, { batch, seq });
  const values = randomValues(graph, 3, spec.vocab);
  const n = graph.tensors.get(graph.output)!.shape.reduce((a, b) => a * b, 1);
  const rng = Rng.forName(3, 'dy');
  const dy = Float32Array.from({ length: n }, () => rng.normal());
  const gpu = await onGpu(graph, file, values, dy);
  const tag = `${spec.name}-${what}`;
  const inputs = join(work, `${tag}.in.safetensors`);
  writeTensors(inputs, new Map([...values, ['dy', dy]]), shapeOf(graph));
  const out = join(work, `${tag}.out.safetensors`);
  jobs.push({ dir, what, block, batch, seq, inputs, out });
  cases.push({ file, what, gpu, out });
}

const cases: Case[] = [];

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'moec-export-test-'));
  const jobs: object[] = [];
  for (const file of files) {
    const spec = specAt(file);
    const dir = exportToTemp(spec);
    if (moeBlocks(spec).length) await prepare(spec, file, dir, work, 'layer', jobs, cases);
    await prepare(spec, file, dir, work, 'model', jobs, cases);
  }
  const jobFile = join(work, 'jobs.json');
  (await import('node:fs')).writeFileSync(jobFile, JSON.stringify(jobs));
  runPython(['tests/export/driver.py', jobFile]);
}, 900_000);

/** Elements where |a − b| > tol·(1 + |b|), as readable lines (the first few). */
function mismatches(name: string, got: Float32Array, want: Float32Array, tol: number): string[] {
  if (got.length !== want.length) return [`${name}: ${got.length} values, expected ${want.length}`];
  const bad: string[] = [];
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!));
    if (!(err <= tol)) {
      worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
      if (bad.length < 1) bad.push(`${name}[${i}]: PyTorch ${got[i]}, WebGPU ${want[i]}`);
    }
  }
  return bad.length ? [`${bad[0]} (worst scaled error ${worst.toExponential(2)})`] : [];
}

describe('the PyTorch export equals the WebGPU kernels', () => {
  for (const file of files) {
    for (const what of ['layer', 'model'] as const) {
      it(`${file}: ${what} forward and backward`, () => {
        const c = cases.find((x) => x.file === file && x.what === what);
        if (!c) {
          // Only a dense model has no layer case.
          expect(what).toBe('layer');
          expect(moeBlocks(specAt(file)).length).toBe(0);
          return;
        }
        const py = readSafetensors(c.out).tensors;
        const tol = what === 'layer' ? 1e-4 : 1e-3;
        const problems: string[] = [];
        let compared = 0;
        for (const [name, want] of c.gpu) {
          const got = py.get(name === 'output' ? (what === 'model' ? 'logits' : 'y') : name);
          if (!got) {
            // A parameter the objective does not reach has no gradient in PyTorch; moec's is all zeros.
            if (name.startsWith('grad/') && want.every((v) => v === 0)) continue;
            problems.push(`${name}: missing from the PyTorch outputs`);
            continue;
          }
          problems.push(...mismatches(name, got.data as Float32Array, want, tol));
          compared++;
        }
        expect(problems).toEqual([]);
        // The output, at least one loss or gradient: the comparison is not vacuous.
        expect(compared).toBeGreaterThan(3);
      });
    }
  }
});
