/**
 * `moec compare --match`: a compared spec's FFN hidden sizes are scaled by
 * one factor so its forward FLOPs per token (or total parameters) equal the
 * reference's as nearly as whole hidden units allow; the scaled text stays a
 * valid spec with comments untouched; a spec that cannot be matched is a
 * clear error, not a silent mismatch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costOf, matchBudget, scaleHidden } from '../../cli/budget_match.ts';
import { UserError } from '../../cli/user_error.ts';
import { checkSpec } from '../../compiler/compile.ts';
import type { ModelSpec } from '../../compiler/spec.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const load = (name: string): ModelSpec => {
  const path = join(ROOT, 'specs', name);
  return checkSpec(readFileSync(path, 'utf8'), path).spec!;
};

describe('budget matching', () => {
  const ref = load('switch.moe');

  it('matches dense to switch in forward FLOPs per token within 2%', () => {
    const m = matchBudget(ref, load('dense.moe'), 'flops');
    const target = costOf(ref).flopsPerToken;
    const got = costOf(m.spec).flopsPerToken;
    expect(Math.abs(got / target - 1)).toBeLessThan(0.02);
    expect(m.ratio).toBeCloseTo(got / target, 12);
    // dense's FFN is wider than switch's one active expert, so it shrinks
    expect(m.factor).toBeLessThan(1);
    // attention, width and depth are as written
    expect(m.spec.width).toBe(ref.width);
    expect(m.spec.depth).toBe(load('dense.moe').depth);
  });

  it('matches in total parameters within 2% (Soft MoE, expert choice)', () => {
    const target = costOf(ref).params;
    for (const name of ['soft_moe.moe', 'expert_choice.moe']) {
      const m = matchBudget(ref, load(name), 'params');
      expect(Math.abs(costOf(m.spec).params / target - 1)).toBeLessThan(0.02);
    }
  });

  it('leaves the reference and --match none alone, and matches a copy of the reference at x1', () => {
    expect(matchBudget(ref, ref, 'flops').factor).toBe(1);
    const copy = matchBudget(ref, load('switch.moe'), 'flops');
    expect(copy.factor).toBeCloseTo(1, 2);
    expect(copy.ratio).toBe(1);
    const dense = load('dense.moe');
    expect(matchBudget(ref, dense, 'none').spec).toBe(dense);
  });

  it('scales every hidden size, keeping its power-of-two granularity and the comments', () => {
    const text = 'ffn moe {\n  experts 8 { hidden 128 }  # hidden 128 stays in comments\n  shared 1 { hidden 24 }\n}\n';
    expect(scaleHidden(text, 0.5)).toBe('ffn moe {\n  experts 8 { hidden 64 }  # hidden 128 stays in comments\n  shared 1 { hidden 16 }\n}\n');
    // never below one granule
    expect(scaleHidden('hidden 8', 0.01)).toBe('hidden 8');
    // dense blocks of an `every n` spec scale too
    expect(scaleHidden('ffn moe every 2 { dense_hidden 256\n experts 8 { hidden 128 } }', 0.5)).toBe('ffn moe every 2 { dense_hidden 128\n experts 8 { hidden 64 } }');
    // with segments 3 every size stays divisible by 3 (granularity lcm(8, 3) = 24)
    expect(scaleHidden('experts 8 segments 3 { hidden 96 }', 0.6)).toBe('experts 8 segments 3 { hidden 48 }');
  });

  it('refuses a spec whose attention and embeddings alone cost more than the reference', () => {
    let err: unknown;
    try {
      matchBudget(ref, load('deepseekmoe.moe'), 'flops');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/deepseekmoe costs more than switch even with hidden sizes near zero/);
  });

  it('matches specs/budget/ to the sizes docs/RESULTS.md reports (a change here must rerun its numbers)', () => {
    const budget = (name: string) => load(join('budget', `${name}.moe`));
    const sw = budget('switch');
    const hidden = (s: ModelSpec) => s.source.text.replace(/#.*$/gm, '').match(/hidden \d+/g)?.join(', ');
    const sizes: Record<string, string> = { dense: 'hidden 136', top2: 'hidden 64', expert_choice: 'hidden 128', mixture_of_tokens: 'hidden 120', fine_grained: 'hidden 32, hidden 32' };
    for (const [name, want] of Object.entries(sizes)) expect(hidden(matchBudget(sw, budget(name), 'flops').spec), name).toBe(want);
    // fine_grained lands 3.9% above switch; dense matched to fine_grained (hidden 144) 0.8% below it, with its active parameters
    const fg = budget('fine_grained');
    expect(matchBudget(sw, fg, 'flops').ratio).toBeCloseTo(1.0392, 4);
    const dense = matchBudget(fg, budget('dense'), 'flops');
    expect(hidden(dense.spec)).toBe('hidden 144');
    expect(dense.ratio).toBeCloseTo(0.9921, 4);
    expect(costOf(dense.spec).params).toBe(costOf(fg).activeParams);
  });
});
