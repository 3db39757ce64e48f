/**
 * The router's score functions, as data both backends render: which shape
 * of computation each is (a softmax over the token's row, or an elementwise
 * function of the logit) and, for elementwise ones, the function and its
 * gradient written once in the expression form. The table is keyed by the
 * `score` attribute's type, so a score function added to the router's
 * definition without an entry here (or a backend case for its shape) does
 * not type-check.
 */
import type { ScoreName } from '../../compiler/score_functions.ts';
import { mul, num, sub, x, type ScalarFn } from './expr.ts';
import { SCALAR_FNS } from './functions.ts';

export type { ScoreName };

export type ScoreDef =
  /** p = softmax over the row of logits (max-shifted); dz = p ⊙ (dp − Σ p·dp). Row loops are written per backend. */
  | { readonly shape: 'row_softmax'; readonly doc: string }
  /** p = forward(z) per element; dz = grad(p, dp) per element. */
  | { readonly shape: 'elementwise'; readonly doc: string; readonly forward: ScalarFn; readonly grad: ScalarFn };

export const SCORES: { readonly [S in ScoreName]: ScoreDef } = {
  softmax: { shape: 'row_softmax', doc: 'softmax over experts, per token' },
  sigmoid: {
    shape: 'elementwise',
    doc: 'σ(z) per expert',
    forward: SCALAR_FNS.sigmoid_f32!,
    grad: { name: 'dsigmoid', doc: "σ' from p = σ(z): dp·p·(1 − p)", type: 'f32', params: ['p', 'dp'], lets: [], ret: mul(mul(x('dp'), x('p')), sub(num(1), x('p'))) },
  },
};
