/**
 * Seeded random compositions of token-choice routing primitives, drawn from
 * the route grammar (docs/LANGUAGE.md): a score function, top-k with or
 * without a group limit, a cut (top-p or threshold), softmax after top-k or
 * Sinkhorn ranking, renormalised or raw gates and a scale, null experts,
 * capacity with either drop policy and scope or none, loss-free balancing,
 * any set of losses, gates on the input, and plain or gated shared experts.
 * Every draw respects the checker's rules, so each must check cleanly; the
 * GPU proof runs them all.
 */
import { Rng } from '../../runtime/rng.ts';

export interface Composition {
  readonly name: string;
  readonly text: string;
}

const SCORES = ['softmax', 'sigmoid', 'sqrtsoftplus', 'relu'] as const;
const ACTIVATIONS = ['relu', 'gelu', 'silu', 'swiglu'] as const;

/** One random composition; `i` names it. */
export function composition(rng: Rng, i: number): Composition {
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const chance = (p: number) => rng.uniform() < p;
  const E = pick([4, 6, 8]);
  const score = pick(SCORES);
  const softmax = score === 'softmax';
  const opts: string[] = [`score ${score}`];
  const parts: string[] = [score];
  if (chance(0.2)) {
    opts.push(chance(0.5) ? 'temperature 0.7' : 'temperature 1.5  learn_temperature true');
    parts.push('temperature');
  }

  // Selection: a group limit, or extra experts nobody computes, and at most one cut.
  const groups = E % 2 === 0 && chance(0.3) ? 2 : 0;
  const nulls = !groups && chance(0.3) ? 1 + rng.int(2) : 0;
  const keep = groups ? 1 : 0;
  const maxK = groups ? (E / groups) * keep : E + nulls;
  const k = 1 + rng.int(Math.min(3, maxK));
  opts.push(`top_k ${k}`);
  parts.push(`top-${k}`);
  if (groups) {
    const how = E / groups >= 2 && chance(0.5) ? 'sum_top2' : 'max';
    opts.push(`groups ${groups}`, `top_groups ${keep}`, `group_score ${how}`);
    parts.push(`${groups} groups keep ${keep} (${how})`);
  }
  if (nulls) {
    opts.push(`null_experts ${nulls}`);
    parts.push(`${nulls} null`);
  }
  const cut = chance(0.35) ? (softmax && chance(0.5) ? 'top_p' : 'threshold') : '';
  if (cut === 'top_p') opts.push(`top_p ${pick([0.4, 0.6, 0.8])}`);
  // Thresholds below the typical score, so most tokens keep some experts (relu: positive scores).
  if (cut === 'threshold') opts.push(`threshold ${score === 'relu' ? 0 : softmax ? 0.15 : pick([0.3, 0.5])}`);
  if (cut) parts.push(cut);

  const sinkhorn = !groups && !cut && chance(0.15);
  const afterTopK = softmax && !sinkhorn && chance(0.3);
  if (sinkhorn) {
    opts.push('sinkhorn 5');
    parts.push('sinkhorn');
  }
  if (afterTopK) {
    opts.push('score_after_topk true');
    parts.push('softmax after top-k');
  } else if (chance(0.5)) {
    opts.push('renormalize true');
    parts.push('renormalized');
  }
  if (chance(0.25)) {
    opts.push('routed_scale 2.5');
    parts.push('scaled');
  }

  // Capacity.
  if (chance(0.4)) {
    opts.push('capacity none');
    parts.push('dropless');
  } else {
    const f = pick([0.5, 1.0, 1.5]);
    opts.push(`capacity_factor ${f}`);
    const drop = chance(0.5) ? 'by_probability' : 'by_position';
    const scope = chance(0.5) ? 'sequence' : 'micro_batch';
    opts.push(`drop_policy ${drop}`, `capacity_scope ${scope}`);
    parts.push(`capacity ${f} ${drop} per ${scope}`);
  }

  // Balancing and losses, any combination.
  if (chance(0.3)) {
    opts.push('bias_balance 0.01');
    parts.push('bias');
  }
  const losses = [
    ['balance_loss 0.01', 'balance'],
    ['z_loss 0.001', 'z'],
    ['sequence_balance 0.01', 'sequence balance'],
    ['global_balance 0.01', 'global balance'],
    ...(softmax ? [] : [['l1_loss 0.01', 'l1']]),
  ].filter(() => chance(0.3));
  for (const [opt, label] of losses) {
    opts.push(opt!);
    parts.push(label!);
  }
  if (k === 1 && chance(0.3)) {
    opts.push('apply_gates input');
    parts.push('gates on input');
  }
  const shared = chance(0.5) ? `shared 1 { hidden 8${chance(0.5) ? '  gate sigmoid' : ''} }` : '';
  if (shared) parts.push(shared.includes('gate') ? 'gated shared' : 'shared');

  const name = `composition ${i}: ${parts.join(', ')}`;
  const text = `# ${name}
model composition_${i} {
  vocab 256 context 8 width 16 depth 1 heads 2
  ffn moe {
    experts ${E} { hidden 8 activation ${pick(ACTIVATIONS)} }
    ${shared}
    route token_choice { ${opts.join('  ')} }
  }
}
train { batch 4 }
`;
  return { name, text };
}

/** `count` compositions from one seed. */
export function compositions(seed: number, count: number): Composition[] {
  const rng = new Rng(seed, 11);
  return Array.from({ length: count }, (_, i) => composition(rng, i));
}
