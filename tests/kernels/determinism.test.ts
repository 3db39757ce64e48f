/**
 * Same spec, seed and adapter → the same numbers, bit for bit: the layer's
 * outputs and every gradient from two independent GPU runs are identical
 * (kernels sum in a fixed order; there are no float atomics).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { lowerMoeBlock } from '../../compiler/lower.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { GraphRunner } from '../../runtime/graph_runner.ts';
import { Rng } from '../../runtime/rng.ts';
import { randomValues } from '../../runtime/test_scenarios.ts';

async function runOnce(path: string, seed: number): Promise<Map<string, Uint8Array>> {
  const { spec } = checkSpec(readFileSync(path, 'utf8'), path);
  const graph = lowerMoeBlock(spec!, { batch: 8, seq: 16 });
  const gpu = await sharedGpu();
  const runner = await GraphRunner.create(gpu, graph, path);
  try {
    runner.setValues(randomValues(graph, seed, spec!.vocab));
    await runner.forward();
    const n = graph.tensors.get(graph.output)!.shape.reduce((a, b) => a * b, 1);
    const rng = Rng.forName(seed, 'dy');
    const dy = Float32Array.from({ length: n }, () => rng.normal());
    await runner.backward(new Map([[graph.output, dy]]));
    const out = new Map<string, Uint8Array>();
    const bytes = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer.slice(0));
    out.set(graph.output, bytes(await runner.read(graph.output)));
    for (const t of graph.tensors.values()) {
      if (t.role === 'loss' || t.role === 'index') out.set(t.name, bytes(await runner.read(t.name)));
      if (t.role === 'param' || t.name === 'x') out.set(`grad/${t.name}`, bytes(await runner.readGrad(t.name)));
    }
    return out;
  } finally {
    runner.destroy();
  }
}

describe('determinism', () => {
  for (const name of ['switch', 'dropless', 'expert_choice', 'mixture_of_tokens', 'deepseekmoe', 'soft_moe', 'molora']) {
    it(`${name}: two runs give bit-identical outputs and gradients`, async () => {
      const a = await runOnce(`specs/${name}.moe`, 5);
      const b = await runOnce(`specs/${name}.moe`, 5);
      expect([...a.keys()]).toEqual([...b.keys()]);
      for (const [k, v] of a) expect(Buffer.compare(Buffer.from(v), Buffer.from(b.get(k)!)), k).toBe(0);
      // A different seed really changes the numbers (the comparison is not vacuous).
      const c = await runOnce(`specs/${name}.moe`, 6);
      expect(Buffer.compare(Buffer.from(a.get('grad/x')!), Buffer.from(c.get('grad/x')!))).not.toBe(0);
    });
  }
});
