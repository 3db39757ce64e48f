/**
 * The router's score functions, as the language knows them: each name, and
 * whether it normalises over the token's experts (a softmax) or scores each
 * expert on its own (normalize none). The schema, the routing core, the
 * router op's definition and the checks all read this list; the math of
 * each lives in codegen/rowmath/scores.ts, which both backends render.
 */

export const SCORE_NAMES = ['softmax', 'sigmoid', 'sqrtsoftplus', 'relu'] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];

export const SCORE_FUNCTIONS: { readonly [S in ScoreName]: { readonly normalize: 'per_token' | 'none'; readonly doc: string } } = {
  softmax: { normalize: 'per_token', doc: 'softmax over the experts of each token' },
  sigmoid: { normalize: 'none', doc: 'σ(z) per expert, not normalised' },
  sqrtsoftplus: { normalize: 'none', doc: 'sqrt(softplus(z)) = sqrt(log(1 + e^z)) per expert, not normalised' },
  relu: { normalize: 'none', doc: 'max(z, 0) per expert (ReLU routing: experts with a positive score are the ones that can be selected)' },
};

/** The score functions that score each expert on its own (normalize none). */
export const ELEMENTWISE_SCORES = SCORE_NAMES.filter((s) => SCORE_FUNCTIONS[s].normalize === 'none');
