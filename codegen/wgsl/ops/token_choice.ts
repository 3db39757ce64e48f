/**
 * Token-choice kernels: Sinkhorn-balanced ranking scores, the top-k
 * selection with its options (group limit, cuts, scaling) and the capacity
 * assignment with its drop policies, with the selection's backward.
 * Selection and assignment use integer logic and visit candidates in a fixed
 * order, so results are deterministic. They are written independently of the
 * Float64 reference (which sorts where these kernels scan), so the reference
 * remains a real check of them.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import type { Kernel } from '../kernel.ts';
import { KernelWriter, f32, type KernelTable, type OpContext } from '../kernel_writer.ts';
import { divU, group, loopU, mulU } from '../wgsl_fold.ts';
import { BEATS } from './routing.ts';

type Pair = { forward: Kernel[]; backward: Kernel[] };

/** The most groups a group-limited selection may have: kept groups are a bit mask in one u32. */
export const MAX_GROUPS = 32;

/** WGSL: the score of group g of token t from its experts' ranking scores `r(t, e)`. */
function groupScoreFn(how: OpOf<'select_top_k'>['attrs']['group_score'], size: number, rank: (e: string) => string): string {
  const read = rank(`g * ${size}u + m`);
  const body: Record<typeof how, string[]> = {
    max: ['  var best = -3.4e38;', `  for (var m = 0u; m < ${size}u; m++) { best = max(best, ${read}); }`, '  return best;'],
    sum_top2: [
      '  var first = -3.4e38;',
      '  var second = -3.4e38;',
      `  for (var m = 0u; m < ${size}u; m++) {`,
      `    let v = ${read};`,
      '    if (v > first) { second = first; first = v; } else if (v > second) { second = v; }',
      '  }',
      '  return first + second;',
    ],
  };
  return ['fn group_score(t: u32, g: u32) -> f32 {', ...body[how], '}'].join('\n');
}

/** `select_top_k`: each token's best experts by ranking score (+ bias), within its best groups, up to a cut (or replayed picks); gates raw or renormalized, then scaled. */
export function selectTopKKernels(ctx: OpContext<OpOf<'select_top_k'>>): Pair {
  const { op } = ctx;
  const N = ctx.shape(op.inputs.probs)[0]!;
  const { k, scale, cut } = op.attrs;
  const renorm = ({ raw: false, renormalized: true } satisfies Record<OpOf<'select_top_k'>['attrs']['weights'], boolean>)[op.attrs.weights];
  // A cut may leave places unused (−1, gate 0), so the loop must be able to stop early.
  const dynamic = ({ none: false, top_p: true, threshold: true } satisfies Record<typeof cut, boolean>)[cut];
  const fw = new KernelWriter(ctx, 'select_top_k', 'forward');
  fw.bind('probs', ctx.tensor(op.inputs.probs), 'read');
  const at = `${mulU('t', k)} + j`;
  if (op.inputs.replay) replayedPicks(fw, ctx, at);
  else rankedPicks(fw, ctx, at, dynamic);
  // Picks whose scores are all 0 (ReLU scores, or no pick above a threshold) keep their gates: nothing to renormalise.
  if (renorm) fw.body(`if (total > 0.0) { ${loopU('j', k)} token_gate[${at}] = token_gate[${at}] / total; } }`);
  if (scale !== 1) fw.body(`${loopU('j', k)} token_gate[${at}] = token_gate[${at}] * ${f32(scale)}; } // routed scaling factor`);
  const forward = [fw.finish1d(N)];
  if (!ctx.needsGrad(op.inputs.probs)) return { forward, backward: [] };
  return { forward, backward: [selectGradKernel(ctx, renorm, dynamic || !!op.inputs.replay)] };
}

/** Routing replay: the picks are given (−1: none); the gates are computed as a ranked selection computes them, so a replayed run matches its recording bit for bit. */
function replayedPicks(fw: KernelWriter, ctx: OpContext<OpOf<'select_top_k'>>, at: string): void {
  const { op } = ctx;
  const E = ctx.shape(op.inputs.probs)[1]!;
  fw.bind('replay', ctx.tensor(op.inputs.replay!), 'read', 'i32');
  fw.bind('token_expert', ctx.tensor(op.outputs.token_expert), 'read_write', 'i32');
  fw.bind('token_gate', ctx.tensor(op.outputs.token_gate), 'read_write');
  fw.body(
    'let t = i;',
    'var total = 0.0;',
    `${loopU('j', op.attrs.k)}`,
    `  let e = replay[${at}];`,
    `  token_expert[${at}] = e;`,
    `  if (e >= 0) { let p = probs[t * ${E}u + u32(e)]; token_gate[${at}] = p; total += p; } else { token_gate[${at}] = 0.0; }`,
    '}',
  );
}

/** The picks by ranking score (+ bias), within the kept groups, up to the cut; leaves `total` = the sum of the picks' probs. */
function rankedPicks(fw: KernelWriter, ctx: OpContext<OpOf<'select_top_k'>>, at: string, dynamic: boolean): void {
  const { op } = ctx;
  const E = ctx.shape(op.inputs.probs)[1]!;
  const { k, groups: G, top_groups: keep, group_score: how, cut, cut_value: cutValue } = op.attrs;
  const source = op.inputs.rank ? 'rank' : 'probs';
  if (op.inputs.rank) fw.bind('rank', ctx.tensor(op.inputs.rank), 'read');
  if (op.inputs.bias) fw.bind('bias', ctx.tensor(op.inputs.bias), 'read');
  fw.bind('token_expert', ctx.tensor(op.outputs.token_expert), 'read_write', 'i32');
  fw.bind('token_gate', ctx.tensor(op.outputs.token_gate), 'read_write');
  fw.declare(BEATS);
  const score = (t: string, e: string) => (op.inputs.bias ? `${source}[${t} * ${E}u + ${e}] + bias[${e}]` : `${source}[${t} * ${E}u + ${e}]`);
  fw.body('let t = i;');
  let skip = '';
  if (G > 1) {
    const size = E / G;
    fw.declare(groupScoreFn(how, size, (e) => score('t', e)));
    fw.body(
      `// Only the ${keep} best of ${G} groups (${how} of their ranking scores; ties: lower group) hold candidates.`,
      'var kept_groups = 0u;',
      'var gprev_v = 3.4e38;',
      'var gprev_g = 0u;',
      `${loopU('gj', keep)}`,
      '  var gbest_v = -3.4e38;',
      `  var gbest_g = ${G}u;`,
      `  for (var g = 0u; g < ${G}u; g++) {`,
      '    let v = group_score(t, g);',
      '    let after_prev = gj == 0u || beats(gprev_v, gprev_g, v, g);',
      `    if (after_prev && (gbest_g == ${G}u || beats(v, g, gbest_v, gbest_g))) { gbest_v = v; gbest_g = g; }`,
      '  }',
      '  gprev_v = gbest_v;',
      '  gprev_g = gbest_g;',
      '  kept_groups = kept_groups | (1u << gbest_g);',
      '}',
    );
    skip = `    if ((kept_groups & (1u << ${group(divU('e', size))})) == 0u) { continue; }`;
  }
  if (dynamic) fw.body(`${loopU('j', k)} token_expert[${at}] = -1; token_gate[${at}] = 0.0; }`);
  fw.body(
    '// Each pick is the best expert ranked after the previous pick (no per-thread arrays).',
    'var prev_v = 3.4e38;',
    'var prev_e = 0u;',
    'var total = 0.0;',
    // `break` needs a real loop, even for k = 1.
    dynamic ? `for (var j = 0u; j < ${k}u; j++) {` : `${loopU('j', k)}`,
    '  var best_v = -3.4e38;',
    `  var best_e = ${E}u;`,
    `  for (var e = 0u; e < ${E}u; e++) {`,
    ...(skip ? [skip] : []),
    `    let v = ${score('t', 'e')};`,
    '    let after_prev = j == 0u || beats(prev_v, prev_e, v, e);',
    `    if (after_prev && (best_e == ${E}u || beats(v, e, best_v, best_e))) { best_v = v; best_e = e; }`,
    '  }',
    '  prev_v = best_v;',
    '  prev_e = best_e;',
  );
  if (dynamic) {
    fw.body(
      `  let p = probs[t * ${E}u + best_e];`,
      ...(cut === 'threshold' ? [`  if (p <= ${f32(cutValue)}) { break; } // threshold: only scores above ${cutValue}`] : []),
      `  token_expert[${at}] = i32(best_e);`,
      `  token_gate[${at}] = p;`,
      '  total += p;',
      ...(cut === 'top_p' ? [`  if (total >= ${f32(cutValue)}) { break; } // top_p: the picks reach ${cutValue}`] : []),
      '}',
    );
  } else {
    fw.body(`  token_expert[${at}] = i32(best_e);`, `  let p = probs[t * ${E}u + best_e];`, `  token_gate[${at}] = p;`, '  total += p;', '}');
  }
}

/** `select_grad_probs`: the gates' gradient into probs; `dynamic` when places can hold −1 (a cut, replayed picks). */
function selectGradKernel(ctx: OpContext<OpOf<'select_top_k'>>, renorm: boolean, dynamic: boolean): Kernel {
  const { op } = ctx;
  const [, E] = ctx.shape(op.inputs.probs) as [number, number];
  const { k, scale } = op.attrs;
  const at = `${mulU('t', k)} + j`;
  const bw = new KernelWriter(ctx, 'select_grad_probs', 'backward');
  // Renormalised gates need the scores and gates themselves; raw ones only pass the gradient through.
  if (renorm) bw.bind('probs', ctx.tensor(op.inputs.probs), 'read');
  bw.bind('token_expert', ctx.tensor(op.outputs.token_expert), 'read', 'i32');
  if (renorm) bw.bind('token_gate', ctx.tensor(op.outputs.token_gate), 'read');
  bw.bind('d_gate', ctx.grad(op.outputs.token_gate), 'read');
  bw.bind('d_probs', ctx.grad(op.inputs.probs), 'read_write');
  bw.body('let t = i;');
  const dg = scale === 1 ? `d_gate[${at}]` : `d_gate[${at}] * ${f32(scale)}`;
  // Places a cut left unused hold −1 and take no gradient.
  const picked = (lines: string[]) => (dynamic ? ['  if (token_expert[' + at + '] >= 0) {', ...lines.map((l) => `  ${l}`), '  }'] : lines);
  if (renorm) {
    // g_j = s·p_j / Σ, so dp_j = (s·dg_j − Σ_i dg_i g_i) / Σ; with Σ = 0 the gates were not renormalised (raw).
    bw.body(
      'var total = 0.0;',
      'var dotp = 0.0;',
      `${loopU('j', k)}`,
      ...picked([`  total += probs[t * ${E}u + u32(token_expert[${at}])];`, `  dotp += d_gate[${at}] * token_gate[${at}];`]),
      '}',
      `${loopU('j', k)}`,
      ...picked([`  let e = u32(token_expert[${at}]);`, `  d_probs[t * ${E}u + e] += select(${dg}, (${dg} - dotp) / total, total > 0.0);`]),
      '}',
    );
  } else {
    bw.body(`${loopU('j', k)}`, ...picked([`  let e = u32(token_expert[${at}]);`, `  d_probs[t * ${E}u + e] += ${dg};`]), '}');
  }
  return bw.finish1d(ctx.shape(op.inputs.probs)[0]!);
}

/**
 * `assign`: capacity per scope and drop policy, per-expert prefix sums, and
 * both directions of the routing table. One workgroup in phases separated by
 * barriers; each expert's choices are counted by one thread in a fixed order.
 * The default (by_position over the whole call) decides and places in one
 * pass; the other policies first mark which choices are kept, then place
 * the kept ones in priority order.
 */
export function assignKernels(ctx: OpContext<OpOf<'assign'>>): Pair {
  const { op } = ctx;
  const [N, k] = ctx.shape(op.inputs.token_expert) as [number, number];
  const { experts: E, capacity: cap, rows: R, null_experts: nulls, drop, seq } = op.attrs;
  const all = E + nulls;
  const wg = Math.min(256, ctx.target.maxComputeInvocationsPerWorkgroup);
  const w = new KernelWriter(ctx, 'assign', 'forward');
  w.bind('token_expert', ctx.tensor(op.inputs.token_expert), 'read', 'i32');
  if (op.inputs.token_gate) w.bind('token_gate', ctx.tensor(op.inputs.token_gate), 'read');
  w.bind('token_slot', ctx.tensor(op.outputs.token_slot), 'read_write', 'i32');
  w.bind('slot_token', ctx.tensor(op.outputs.slot_token), 'read_write', 'i32');
  w.bind('offsets', ctx.tensor(op.outputs.expert_offsets), 'read_write', 'i32');
  w.bind('load', ctx.tensor(op.outputs.load), 'read_write', 'i32');
  w.bind('demand', ctx.tensor(op.outputs.demand), 'read_write', 'i32');
  const under = (count: string) => (cap === 0 ? 'true' : `${count} < ${cap}`);
  // Places a cut left unused are nobody's choice: mark them here, as no expert's thread visits them.
  if (op.attrs.may_skip && drop === 'by_position') w.body(`for (var at = lid; at < ${N * k}u; at += ${wg}u) { if (token_expert[at] < 0) { token_slot[at] = -1; } }`);
  /** Per expert (one thread each), its choices in priority order — 1st choices in token order, then 2nd, … —; `decide` says what a choice of e does. */
  const walk = (comment: string, decide: string[]): string[] => [
    comment,
    `for (var e = lid; e < ${all}u; e += ${wg}u) {`,
    '  var seen = 0;',
    '  var kept = 0;',
    `  ${loopU('j', k)}`,
    `    for (var t = 0u; t < ${N}u; t++) {`,
    `      let at = ${mulU('t', k)} + j;`,
    '      if (token_expert[at] == i32(e)) {',
    '        seen += 1;',
    ...decide.map((l) => `        ${l}`),
    '      }',
    '    }',
    '  }',
    '  demand[e] = seen;',
    '  load[e] = kept;',
    '}',
  ];
  if (drop === 'by_position' && seq === 0) {
    w.body(
      ...walk(
        '// Phase 1: per expert, walk choices in priority order; token_slot holds the position within the expert (or -1 if over capacity).',
        nulls
          ? [`if (e >= ${E}u) { token_slot[at] = -1; kept += 1; } // a null expert: kept, no row`, `else if (${under('kept')}) { token_slot[at] = kept; kept += 1; } else { token_slot[at] = -1; }`]
          : [`if (${under('kept')}) { token_slot[at] = kept; kept += 1; } else { token_slot[at] = -1; }`],
      ),
    );
  } else {
    const S = seq > 0 ? seq : N;
    if (drop === 'by_probability') {
      // A choice's rank among its expert's choices in its scope: higher gates first, ties in priority order (j, then t).
      w.body(
        '// Phase 1a: each choice is kept when fewer than capacity choices of its expert and scope rank before it.',
        `for (var at = lid; at < ${N * k}u; at += ${wg}u) {`,
        '  let e = token_expert[at];',
        `  if (e < 0 || e >= ${E}) { token_slot[at] = -1; continue; }`,
        `  let t = ${divU('at', k)};`,
        `  let j = at % ${k}u;`,
        '  let g = token_gate[at];',
        `  let first = (t / ${S}u) * ${S}u;`,
        '  var ahead = 0;',
        `  for (var u = first; u < first + ${S}u; u++) {`,
        `    ${loopU('j2', k)}`,
        `      let other = ${mulU('u', k)} + j2;`,
        '      if (token_expert[other] == e) {',
        '        let g2 = token_gate[other];',
        '        if (g2 > g || (g2 == g && (j2 < j || (j2 == j && u < t)))) { ahead += 1; }',
        '      }',
        '    }',
        '  }',
        `  token_slot[at] = select(-1, 0, ${under('ahead')});`,
        '}',
        'storageBarrier();',
        'workgroupBarrier();',
      );
    } else {
      // by_position per sequence: each sequence's choices in priority order against its own capacity.
      w.body(
        '// Phase 1a: per expert and sequence, the first capacity choices in priority order are kept.',
        `for (var e = lid; e < ${E}u; e += ${wg}u) {`,
        `  for (var first = 0u; first < ${N}u; first += ${S}u) {`,
        '    var kept = 0;',
        `    ${loopU('j', k)}`,
        `      for (var t = first; t < first + ${S}u; t++) {`,
        `        let at = ${mulU('t', k)} + j;`,
        `        if (token_expert[at] == i32(e)) { if (${under('kept')}) { token_slot[at] = 0; kept += 1; } else { token_slot[at] = -1; } }`,
        '      }',
        '    }',
        '  }',
        '}',
        'storageBarrier();',
        'workgroupBarrier();',
      );
    }
    w.body(
      ...walk('// Phase 1b: per expert, kept choices take positions in priority order; null experts keep every choice and get none.', [
        `if (e >= ${E}u) { token_slot[at] = -1; kept += 1; } else if (token_slot[at] >= 0) { token_slot[at] = kept; kept += 1; }`,
      ]),
    );
  }
  w.body(
    'storageBarrier();',
    'workgroupBarrier();',
    '// Phase 2: exclusive prefix sum of the kept counts.',
    'if (lid == 0u) {',
    '  var run = 0;',
    `  for (var e = 0u; e < ${E}u; e++) { offsets[e] = run; run += load[e]; }`,
    `  offsets[${E}u] = run;`,
    '}',
    'storageBarrier();',
    'workgroupBarrier();',
    '// Phase 3: positions become rows; rows past the used ones hold -1.',
    `for (var at = lid; at < ${N * k}u; at += ${wg}u) {`,
    '  let pos = token_slot[at];',
    '  if (pos >= 0) {',
    '    let row = offsets[token_expert[at]] + pos;',
    '    token_slot[at] = row;',
    `    slot_token[row] = i32(${divU('at', k)});`,
    '  }',
    '}',
    `for (var r = u32(offsets[${E}u]) + lid; r < ${R}u; r += ${wg}u) { slot_token[r] = -1; }`,
  );
  return { forward: [w.finishSingle(wg)], backward: [] };
}

/**
 * `sinkhorn`: alternating row and column normalisation of exp(logits) in one
 * workgroup (every sum in a fixed order), for a fixed number of iterations.
 */
export function sinkhornKernels(ctx: OpContext<OpOf<'sinkhorn'>>): Pair {
  const { op } = ctx;
  const [N, E] = ctx.shape(op.inputs.logits) as [number, number];
  const wg = Math.min(256, ctx.target.maxComputeInvocationsPerWorkgroup);
  const w = new KernelWriter(ctx, 'sinkhorn', 'forward');
  w.bind('logits', ctx.tensor(op.inputs.logits), 'read');
  w.bind('balanced', ctx.tensor(op.outputs.balanced), 'read_write');
  w.bind('d0', ctx.scratch('d0', N), 'read_write');
  w.bind('d1', ctx.scratch('d1', E), 'read_write');
  const sync = ['  storageBarrier();', '  workgroupBarrier();'];
  w.body(
    '// c = exp(z − row max): a row factor that d0 absorbs, so only overflow changes.',
    `for (var t = lid; t < ${N}u; t += ${wg}u) {`,
    '  var m = -3.4e38;',
    `  for (var e = 0u; e < ${E}u; e++) { m = max(m, logits[t * ${E}u + e]); }`,
    `  for (var e = 0u; e < ${E}u; e++) { balanced[t * ${E}u + e] = exp(logits[t * ${E}u + e] - m); }`,
    '}',
    `for (var e = lid; e < ${E}u; e += ${wg}u) { d1[e] = 1.0; }`,
    'storageBarrier();',
    'workgroupBarrier();',
    `for (var it = 0u; it < ${op.attrs.iterations}u; it++) {`,
    `  for (var t = lid; t < ${N}u; t += ${wg}u) {`,
    '    var s = 0.0;',
    `    for (var e = 0u; e < ${E}u; e++) { s += d1[e] * balanced[t * ${E}u + e]; }`,
    `    d0[t] = ${f32(1 / N)} / (s + 1e-8);`,
    '  }',
    ...sync,
    `  for (var e = lid; e < ${E}u; e += ${wg}u) {`,
    '    var s = 0.0;',
    `    for (var t = 0u; t < ${N}u; t++) { s += d0[t] * balanced[t * ${E}u + e]; }`,
    `    d1[e] = ${f32(1 / E)} / (s + 1e-8);`,
    '  }',
    ...sync,
    '}',
    `for (var t = lid; t < ${N}u; t += ${wg}u) {`,
    `  for (var e = 0u; e < ${E}u; e++) { balanced[t * ${E}u + e] = d0[t] * balanced[t * ${E}u + e] * d1[e]; }`,
    '}',
  );
  return { forward: [w.finishSingle(wg)], backward: [] };
}

/** The kernel generators of this file's op kinds. */
export const TOKEN_CHOICE_KERNELS: KernelTable<'sinkhorn' | 'select_top_k' | 'assign'> = {
  sinkhorn: sinkhornKernels,
  select_top_k: selectTopKKernels,
  assign: assignKernels,
};
