/**
 * The typed op registry: every kind has one definition whose `kind` is its
 * key; docs/IR.md carries the reference generated from the definitions; and
 * GraphBuilder's verifier refuses ops that do not fit their kind's signature
 * (missing or unknown operands, wrong dtype or rank, attributes of the wrong
 * type or outside their enum, inconsistent shapes), naming the op and what
 * is wrong.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../compiler/graph_builder.ts';
import { OP_DEFS, OP_KINDS } from '../../compiler/ops/registry.ts';
import { irReference } from '../../scripts/ir_reference.ts';

const at = { line: 3, text: 'route token_choice { top_k 2 }' };

describe('op registry', () => {
  it('each definition is filed under its own kind, in a file named for it', () => {
    for (const kind of OP_KINDS) {
      expect(OP_DEFS[kind].kind).toBe(kind);
      expect(readFileSync(`compiler/ops/${kind}.ts`, 'utf8')).toContain(`kind: '${kind}'`);
    }
  });

  it('docs/IR.md holds the up-to-date generated op reference (run: npx tsx scripts/ir_reference.ts --write)', () => {
    expect(readFileSync('docs/IR.md', 'utf8')).toContain(irReference());
  });
});

/** A builder with a [6, 4] activation `x` and an [8, 4] router weight. */
function routerGraph(): GraphBuilder {
  const g = new GraphBuilder();
  g.tensor('x', [6, 4], 'f32', 'activation');
  g.tensor('w', [8, 4], 'f32', 'param');
  g.tensor('logits', [6, 8], 'f32', 'activation');
  g.tensor('probs', [6, 8], 'f32', 'activation');
  g.tensor('ids', [6], 'i32', 'input');
  return g;
}
const attrs = { score: 'softmax', normalize: 'per_token', temperature: 1, learn_temperature: false, jitter: 0 } as const;

describe('GraphBuilder verifies every op it adds', () => {
  it('accepts a well-formed op', () => {
    const g = routerGraph();
    g.op('router', 'r', { x: 'x', weight: 'w' }, { logits: 'logits', probs: 'probs' }, attrs, at);
    expect(g.build('layer', 't', 1, 6, 'logits').ops).toHaveLength(1);
  });

  const bad: [string, (g: GraphBuilder) => void, RegExp][] = [
    ['a missing required input', (g) => g.op('router', 'r', { x: 'x' } as never, { logits: 'logits' }, attrs, at), /op r \(router\): missing input weight/],
    ['an unknown input role', (g) => g.op('router', 'r', { x: 'x', weight: 'w', bias: 'w' } as never, { logits: 'logits' }, attrs, at), /unknown input bias/],
    ['an operand of the wrong dtype', (g) => g.op('router', 'r', { x: 'ids', weight: 'w' }, { logits: 'logits' }, attrs, at), /input x \(ids\) is i32\[6\], expected f32 of rank 2/],
    ['an enum attribute outside its values', (g) => g.op('router', 'r', { x: 'x', weight: 'w' }, { logits: 'logits' }, { ...attrs, score: 'tanh' as never }, at), /attr score=tanh is not one of softmax, sigmoid/],
    ['an attribute of the wrong type', (g) => g.op('router', 'r', { x: 'x', weight: 'w' }, { logits: 'logits' }, { ...attrs, temperature: '1' as never }, at), /attr temperature=1 is not a finite number/],
    ['an output whose shape the inputs contradict', (g) => g.op('router', 'r', { x: 'x', weight: 'w' }, { logits: 'probs', probs: 'x' }, attrs, at), /output probs \(x\) is \[6, 4\], its inputs give \[6, 8\]/],
    [
      'a kind-specific inconsistency',
      (g) => g.op('select_top_k', 's', { probs: 'probs' }, { token_expert: g.tensor('te', [6, 9], 'i32', 'index'), token_gate: g.tensor('tg', [6, 9], 'f32', 'activation') }, { k: 9, weights: 'raw' }, at),
      /op s \(select_top_k\): k 9 exceeds the 8 experts/,
    ],
    ['an undeclared tensor', (g) => g.op('router', 'r', { x: 'nope', weight: 'w' }, { logits: 'logits' }, attrs, at), /input x is the undeclared tensor nope/],
  ];
  for (const [what, add, message] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => add(routerGraph())).toThrow(message);
    });
  }

  it('verifies state updates too', () => {
    const g = routerGraph();
    g.tensor('demand', [8], 'i32', 'index');
    g.tensor('bias', [7], 'f32', 'state');
    expect(() => g.stateUpdate('bias_update', 'u', { demand: 'demand' }, { bias: 'bias' }, { rate: 0.001, k: 2 }, at)).toThrow(/output bias \(bias\) is \[7\], its inputs give \[8\]/);
  });
});
