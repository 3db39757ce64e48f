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
import { add, div, mul, neg, num, prim, select, sub, x, type ScalarFn } from './expr.ts';
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
  sqrtsoftplus: {
    shape: 'elementwise',
    doc: 'sqrt(softplus(z)), softplus(z) = max(z, 0) + log(1 + exp(−|z|)) (no overflow)',
    forward: {
      name: 'sqrtsoftplus_f32',
      doc: 'sqrt(softplus(x))',
      type: 'f32',
      params: ['x'],
      lets: [],
      ret: prim('sqrt', add(prim('max', x('x'), num(0)), prim('log', add(num(1), prim('exp', neg(prim('abs', x('x')))))))),
    },
    // d/dz sqrt(softplus(z)) = σ(z) / (2p), and σ(z) = 1 − exp(−softplus(z)) = 1 − exp(−p²); written so that p → 0 gives 0, not 0/0.
    grad: {
      name: 'dsqrtsoftplus',
      doc: "(sqrt∘softplus)' from p: dp·(1 − exp(−p²)) / (2p)",
      type: 'f32',
      params: ['p', 'dp'],
      lets: [],
      ret: select(num(0), div(mul(x('dp'), sub(num(1), prim('exp', neg(mul(x('p'), x('p')))))), mul(num(2), x('p'))), x('p'), '>', num(0)),
    },
  },
  relu: {
    shape: 'elementwise',
    doc: 'max(z, 0) per expert',
    forward: SCALAR_FNS.act_relu!,
    // p > 0 exactly where z > 0, so the gradient is read from p: dp where p > 0, else 0.
    grad: { name: 'drelu_score', doc: "relu' from p: dp if p > 0 else 0", type: 'f32', params: ['p', 'dp'], lets: [], ret: select(num(0), x('dp'), x('p'), '>', num(0)) },
  },
};
