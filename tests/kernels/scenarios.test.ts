/**
 * The shapes `moec test` proves kernels on really contain the hard cases:
 * token counts not divisible by the expert count or any tile size, experts
 * with no tokens, every token routed to one expert, and capacity overflow.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { referenceForward } from '../../codegen/reference/interpreter.ts';
import type { RefValues } from '../../codegen/reference/values.ts';
import { scenariosFor } from '../../runtime/test_scenarios.ts';

describe('test scenarios', () => {
  it('switch: odd token count, and a skewed router that overflows expert 0 and starves the rest', () => {
    const { spec } = checkSpec(readFileSync('specs/switch.moe', 'utf8'), 'specs/switch.moe');
    const [odd, skewed] = scenariosFor(spec!, 1);
    const N = odd!.graph.batch * odd!.graph.seq;
    expect(N % 8).not.toBe(0); // not divisible by the expert count
    expect(N % 4).not.toBe(0); // nor by the GEMM tile
    const values: RefValues = new Map([...skewed!.values].map(([k, v]) => [k, v instanceof Int32Array ? v : Float64Array.from(v)]));
    referenceForward(skewed!.graph, values);
    const demand = [...(values.get('demand') as Int32Array)];
    const load = [...(values.get('load') as Int32Array)];
    const capacity = Math.ceil((1.25 * N) / 8);
    expect(demand[0]).toBe(N); // every token chose expert 0
    expect(load[0]).toBe(capacity); // and most were dropped
    expect(load.slice(1).every((l) => l === 0)).toBe(true); // the other experts got nothing
  });
});
