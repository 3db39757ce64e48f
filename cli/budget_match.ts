/**
 * Budget matching for `moec compare --match flops|params`: a compared spec's
 * FFN hidden sizes (experts, shared experts, dense FFNs) are scaled by one
 * factor until its forward FLOPs per token (active compute) or its total
 * parameters equal the reference spec's as nearly as whole hidden units
 * allow (each size keeps its power-of-two granularity up to 8 and stays
 * divisible by `segments`). Attention, width and depth stay as written, so
 * the comparison changes only the FFNs. The scaled spec is real text (every
 * `hidden N` and `dense_hidden N` rewritten), checked again like any spec,
 * so a run of it can be resumed and reproduced.
 */
import { checkSpec } from '../compiler/compile.ts';
import { modelCost, type ModelCost } from '../compiler/cost.ts';
import { lowerModel } from '../compiler/lower.ts';
import type { ModelSpec } from '../compiler/spec.ts';
import { UserError } from './user_error.ts';

export type MatchBy = 'flops' | 'params' | 'none';

export interface MatchedSpec {
  readonly spec: ModelSpec;
  /** The factor the hidden sizes changed by, as rounded (their sum after over before; 1: unchanged). */
  readonly factor: number;
  /** The matched quantity over the reference's (1 = exact). */
  readonly ratio: number;
}

/** The cost of a spec's model at its training shape. */
export function costOf(spec: ModelSpec): ModelCost {
  return modelCost(spec, lowerModel(spec));
}

const measure = (c: ModelCost, by: Exclude<MatchBy, 'none'>) => (by === 'flops' ? c.flopsPerToken : c.params);

/** The power-of-two granularity (up to 8) of a hidden size, times `segments` when the spec splits experts (each part must stay whole). */
function granularity(n: number, segments: number): number {
  let step = 1;
  while (step < 8 && n % (step * 2) === 0) step *= 2;
  const lcm = (a: number, b: number): number => {
    const gcd = (x: number, y: number): number => (y ? gcd(y, x % y) : x);
    return (a / gcd(a, b)) * b;
  };
  return lcm(step, segments);
}

/** The text with every FFN hidden size (`hidden N`, `dense_hidden N`) multiplied by `factor`, rounded to its granularity (comments untouched). */
export function scaleHidden(text: string, factor: number): string {
  const segments = Math.max(1, ...[...text.replace(/#.*$/gm, '').matchAll(/\bsegments\s+(\d+)/g)].map((m) => Number(m[1])));
  return text
    .split('\n')
    .map((line) => {
      const hash = line.indexOf('#');
      const code = hash >= 0 ? line.slice(0, hash) : line;
      const rest = hash >= 0 ? line.slice(hash) : '';
      return (
        code.replace(/\b((?:dense_)?hidden)(\s+)(\d+)\b/g, (_, key: string, space: string, n: string) => {
          const g = granularity(Number(n), segments);
          return `${key}${space}${Math.max(g, Math.round((Number(n) * factor) / g) * g)}`;
        }) + rest
      );
    })
    .join('\n');
}

/** The sum of a spec text's FFN hidden sizes (comments ignored). */
function hiddenTotal(text: string): number {
  return [...text.replace(/#.*$/gm, '').matchAll(/\b(?:dense_)?hidden\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
}

/** The spec with its hidden sizes scaled; a scaled text that does not check is a clear error naming the first problem. */
function rechecked(spec: ModelSpec, factor: number): ModelSpec {
  const r = checkSpec(scaleHidden(spec.source.text, factor), spec.source.path);
  if (r.spec) return r.spec;
  const first = r.diagnostics.find((d) => d.severity === 'error');
  throw new UserError(`--match: ${spec.name} with its hidden sizes scaled by ${factor.toFixed(3)} is not a valid spec (${first?.message ?? 'it does not check'})`, 'compare with --match none, or choose hidden sizes that scale (powers of two work best)');
}

/**
 * `spec` with its hidden sizes scaled so that its FLOPs per token (or
 * parameters) match `reference`'s. Throws a UserError when no hidden size can
 * (the rest of the model alone costs more than the reference).
 */
export function matchBudget(reference: ModelSpec, spec: ModelSpec, by: MatchBy): MatchedSpec {
  if (by === 'none' || reference === spec) return { spec, factor: 1, ratio: 1 };
  if (!/\b(?:dense_)?hidden\s+\d+/.test(spec.source.text)) throw new UserError(`--match ${by}: ${spec.source.path} sets no \`hidden\` size to scale`, 'write its FFN sizes out (e.g. `experts 8 { hidden 128 }`), or compare with --match none');
  const target = measure(costOf(reference), by);
  const at = (f: number) => measure(costOf(rechecked(spec, f)), by);
  // The cost grows with the factor; bisect on a log scale, then take the better of the two neighbours.
  let lo = 1 / 64;
  let hi = 64;
  if (!(at(lo) <= target)) throw new UserError(`--match ${by}: ${spec.name} costs more than ${reference.name} even with hidden sizes near zero (its attention and embeddings alone: ${fmt(at(lo), by)} against ${fmt(target, by)})`, `make ${spec.name} narrower or shallower, or compare with --match none`);
  if (!(at(hi) >= target)) throw new UserError(`--match ${by}: ${spec.name} cannot reach ${reference.name}'s ${fmt(target, by)} by scaling its hidden sizes up to 64x`, 'compare with --match none, or make the reference smaller');
  for (let i = 0; i < 40; i++) {
    const mid = Math.sqrt(lo * hi);
    if (at(mid) < target) lo = mid;
    else hi = mid;
  }
  const best = [lo, hi].map((f) => ({ f, err: Math.abs(at(f) / target - 1) })).sort((a, b) => a.err - b.err)[0]!;
  const matched = rechecked(spec, best.f);
  // The factor the sizes really changed by (rounding to whole granules can undo a small one).
  const factor = hiddenTotal(matched.source.text) / hiddenTotal(spec.source.text);
  return { spec: factor === 1 ? spec : matched, factor, ratio: measure(costOf(matched), by) / target };
}

function fmt(v: number, by: Exclude<MatchBy, 'none'>): string {
  return by === 'flops' ? `${(v / 1e6).toFixed(2)} MFLOP/token` : `${(v / 1e6).toFixed(3)} M parameters`;
}
