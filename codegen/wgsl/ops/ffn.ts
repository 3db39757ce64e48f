/**
 * Kernels of the feed-forward ops: `ffn` (a dense FFN, or K shared experts
 * summed) and `expert_ffn` (grouped expert GEMMs whose rows are gathered by
 * index, or contiguous slot rows for mixing routers).
 *
 * Forward:  up (+ gate) GEMM with the activation in its epilogue → down GEMM.
 * Backward: grad of hidden (activation derivative in the epilogue), down
 * weight grad, grad of input (then, for gathered rows, a per-token sum over
 * the token's rows: no float atomics), up/gate weight grads.
 */
import type { OpOf } from '../../../compiler/ir.ts';
import type { Activation } from '../../../compiler/schema.ts';
import { baseActivation, componentwise } from '../activations.ts';
import { wgslHelpers } from '../../rowmath/functions.ts';
import { columnVectors, depthVectors, gemmKernel, rowVectors, type GemmSpec } from '../gemm.ts';
import { gemmTile, type Kernel } from '../kernel.ts';
import { KernelWriter, columnsPerThread, type KernelTable, type OpContext } from '../kernel_writer.ts';
import { loopU, mulU } from '../wgsl_fold.ts';

/** How rows map to experts and inputs for one FFN op. */
interface Layout {
  /** Rows of the op's output (N for ffn, R for expert_ffn). */
  readonly rows: number;
  /** Bound on the rows of one group. */
  readonly rowsPerGroup: number;
  readonly groups: number;
  readonly d: number;
  /** Hidden units per group (ffn: K·H in one group; expert_ffn: H). */
  readonly hidden: number;
  readonly gated: boolean;
  readonly activation: Activation;
  /** Row range of group `grp` (WGSL; may read `offsets`). */
  readonly rowBegin: string;
  readonly rowEnd: string;
  /** How a row finds its input row: gathered (slot_token), itself. */
  readonly gather: boolean;
  /** The gate weight (swiglu only). */
  readonly gateWeight?: string;
  /** The routing tables of gathered rows (present exactly when `gather`, as the verifier of expert_ffn requires). */
  readonly tables?: { readonly slotToken: string; readonly tokenSlot: string; readonly offsets: string };
  /** Index into up/gate weights of (group, hidden unit, input column). */
  upIndex(grp: string, h: string, c: string): string;
  /** The same as a vec4 index, for input columns 4·c4 … 4·c4+3 (needs d % 4 == 0). */
  upIndex4(grp: string, h: string, c4: string): string;
  /** Index into down weights of (group, output column, hidden unit). */
  downIndex(grp: string, j: string, h: string): string;
  /** The same as a vec4 index, for hidden units 4·k4 … 4·k4+3 (needs hidden % 4 == 0). */
  downIndex4(grp: string, j: string, k4: string): string;
}

type FfnContext = OpContext<OpOf<'ffn'> | OpOf<'expert_ffn'>>;

function layoutOf(ctx: FfnContext): Layout {
  const { op } = ctx;
  const up = ctx.shape(op.inputs.up);
  const [K, H, d] = [up[0]!, up[1]!, up[2]!];
  const activation = op.attrs.activation;
  const gateWeight = op.inputs.gate;
  const gated = gateWeight !== undefined;
  if (op.kind === 'ffn') {
    const N = ctx.shape(op.inputs.x)[0]!;
    // K FFNs summed = one FFN of hidden K·H whose down weight is [K, d, H].
    return {
      rows: N, rowsPerGroup: N, groups: 1, d, hidden: K * H, gated, activation, rowBegin: '0u', rowEnd: `${N}u`, gather: false, gateWeight,
      upIndex: (_g, h, c) => `(${h}) * ${d}u + ${c}`,
      upIndex4: (_g, h, c4) => `(${h}) * ${d / 4}u + ${c4}`,
      downIndex: (_g, j, h) => (K === 1 ? `(${j}) * ${H}u + ${h}` : `(((${h}) / ${H}u) * ${d}u + ${j}) * ${H}u + (${h}) % ${H}u`),
      downIndex4: (_g, j, k4) => (K === 1 ? `(${j}) * ${H / 4}u + ${k4}` : `(((${k4}) / ${H / 4}u) * ${d}u + ${j}) * ${H / 4}u + (${k4}) % ${H / 4}u`),
    };
  }
  const R = op.attrs.rows;
  const gather = op.attrs.gather;
  const perExpert = op.attrs.rows_per_expert;
  const { slot_token: slotToken, token_slot: tokenSlot, expert_offsets: offsets } = op.inputs;
  return {
    rows: R, rowsPerGroup: perExpert, groups: K, d, hidden: H, gated, activation, gateWeight,
    ...(slotToken && tokenSlot && offsets ? { tables: { slotToken, tokenSlot, offsets } } : {}),
    rowBegin: gather ? 'u32(offsets[grp])' : `grp * ${perExpert}u`,
    rowEnd: gather ? 'u32(offsets[grp + 1u])' : `(grp + 1u) * ${perExpert}u`,
    gather,
    upIndex: (g, h, c) => `(${g} * ${H}u + ${h}) * ${d}u + ${c}`,
    upIndex4: (g, h, c4) => `(${g} * ${H}u + ${h}) * ${d / 4}u + ${c4}`,
    downIndex: (g, j, h) => `(${g} * ${d}u + ${j}) * ${H}u + ${h}`,
    downIndex4: (g, j, k4) => `(${g} * ${d}u + ${j}) * ${H / 4}u + ${k4}`,
  };
}

/** Binds the routing tables a grouped layout needs. */
function bindRows(w: KernelWriter, ctx: FfnContext, L: Layout, withSlots: boolean): void {
  if (L.tables) w.bind('offsets', ctx.tensor(L.tables.offsets), 'read', 'i32');
  if (withSlots && L.tables) w.bind('slot_token', ctx.tensor(L.tables.slotToken), 'read', 'i32');
}

/** Row ranges of a GEMM over the op's rows: packed per expert when routed (gathered), fixed groups otherwise. */
function groupSpec(L: Layout): Pick<GemmSpec, 'groups' | 'rows' | 'rowBegin' | 'rowEnd' | 'packedRows'> {
  if (L.gather) return { rows: L.rowsPerGroup, packedRows: { experts: L.groups, offset: (e) => `u32(offsets[${e}])`, maxRows: L.rows } };
  return { groups: L.groups, rows: L.rowsPerGroup, rowBegin: L.rowBegin, rowEnd: L.rowEnd };
}

/** Input row of tile row i: the gathered token, or the row itself. */
function sourceRow(L: Layout, i: number): string[] {
  return [L.gather ? `let src${i} = u32(max(slot_token[r${i}], 0));` : `let src${i} = r${i};`];
}

export function ffnKernels(ctx: FfnContext): { forward: Kernel[]; backward: Kernel[] } {
  const { op } = ctx;
  const L = layoutOf(ctx);
  const act = baseActivation(L.activation);
  const kind = op.kind === 'ffn' ? 'ffn' : 'expert';
  const x = ctx.tensor(op.inputs.x);
  const out = ctx.tensor(op.kind === 'ffn' ? op.outputs.y : op.outputs.out);
  const preUp = ctx.saved('pre_up', L.rows * L.hidden);
  const preGate = L.gated ? ctx.saved('pre_gate', L.rows * L.hidden) : '';
  const hidden = ctx.saved('hidden', L.rows * L.hidden);
  const upW = ctx.tensor(op.inputs.up);
  const gateW = L.gateWeight ? ctx.tensor(L.gateWeight) : '';
  const downW = ctx.tensor(op.inputs.down);
  const H = L.hidden;
  const d = L.d;

  // Unfused mode (benchmarks only): a permuted copy of the rows, a plain GEMM, a separate activation pass.
  const fused = ctx.target.fusion !== false;
  const forward: Kernel[] = [];
  let input = x;
  let gatherInGemm = L.gather;
  if (!fused && L.tables) {
    input = ctx.scratch('gathered_rows', L.rows * d);
    const g = new KernelWriter(ctx, `${kind}_gather_rows`, 'forward');
    g.bind('x', x, 'read');
    g.bind('slot_token', ctx.tensor(L.tables.slotToken), 'read', 'i32');
    g.bind('rows', input, 'read_write');
    g.body(`let t = slot_token[i / ${d}u];`, `rows[i] = select(0.0, x[u32(max(t, 0)) * ${d}u + i % ${d}u], t >= 0);`);
    forward.push(g.finish1d(L.rows * d));
    gatherInGemm = false;
  }

  // Forward 1: pre = x·upᵀ (and gate), hidden = act(pre) or silu(gate) ⊙ up.
  const up = new KernelWriter(ctx, `${kind}_up`, 'forward');
  // 16-byte loads along the reduction when the width allows (both operands are contiguous in it).
  const fwdTile = gemmTile(ctx.target, 'forward');
  const upVec = fused && depthVectors(fwdTile, d);
  up.bind('x', input, 'read', upVec ? 'vec4f' : 'f32');
  bindRows(up, ctx, L, gatherInGemm);
  up.bind('w_up', upW, 'read', upVec ? 'vec4f' : 'f32');
  if (L.gated) up.bind('w_gate', gateW, 'read', upVec ? 'vec4f' : 'f32');
  // 16-byte stores of 4 columns when the tile allows (never in the unfused baseline: its tile is 1x1).
  const upStore4 = columnVectors(fwdTile, H);
  const outTy = (v: boolean) => (v ? 'vec4f' : 'f32');
  up.bind('pre_up', preUp, 'read_write', outTy(upStore4));
  if (L.gated) up.bind('pre_gate', preGate, 'read_write', outTy(upStore4));
  if (fused) up.bind('hidden', hidden, 'read_write', outTy(upStore4));
  if (fused) up.declare(wgslHelpers(`act_${act}`));
  const upRows = { ...L, gather: gatherInGemm };
  const upSpec: GemmSpec = {
    ...groupSpec(L),
    tile: fwdTile,
    ...(upVec
      ? {
          vec4: {
            a: (i: number, k4: string) => `x[src${i} * ${d / 4}u + ${k4}]`,
            b: [(k4: string, c: string) => `w_up[${L.upIndex4('grp', c, k4)}]`, ...(L.gated ? [(k4: string, c: string) => `w_gate[${L.upIndex4('grp', c, k4)}]`] : [])],
          },
        }
      : {}),
    cols: H,
    depthEnd: `${d}u`,
    rowSetup: (i) => sourceRow(upRows, i),
    a: (i, k) => `x[src${i} * ${d}u + ${k}]`,
    b: [(k, c) => `w_up[${L.upIndex('grp', c, k)}]`, ...(L.gated ? [(k: string, c: string) => `w_gate[${L.upIndex('grp', c, k)}]`] : [])],
    store: (i, c, acc) => {
      const at = `r${i} * ${H}u + ${c}`;
      const pre = [`pre_up[${at}] = ${acc[0]};`, ...(L.gated ? [`pre_gate[${at}] = ${acc[1]};`] : [])];
      if (!fused) return pre;
      return [...pre, L.gated ? `hidden[${at}] = act_silu(${acc[1]}) * ${acc[0]};` : `hidden[${at}] = act_${act}(${acc[0]});`];
    },
    ...(upStore4
      ? {
          store4: (i: number, c4: string, acc: readonly string[]) => {
            const at = `r${i} * ${H / 4}u + ${c4}`;
            return [
              `let u = ${acc[0]};`,
              `pre_up[${at}] = u;`,
              ...(L.gated ? [`let g = ${acc[1]};`, `pre_gate[${at}] = g;`, `hidden[${at}] = ${componentwise('act_silu', 'g')} * u;`] : [`hidden[${at}] = ${componentwise(`act_${act}`, 'u')};`]),
            ];
          },
        }
      : {}),
  };
  forward.push(gemmKernel(up, upSpec));
  if (!fused) {
    const a = new KernelWriter(ctx, `${kind}_activation`, 'forward');
    a.bind('pre_up', preUp, 'read');
    if (L.gated) a.bind('pre_gate', preGate, 'read');
    a.bind('hidden', hidden, 'read_write');
    a.declare(wgslHelpers(`act_${act}`));
    a.body(L.gated ? 'hidden[i] = act_silu(pre_gate[i]) * pre_up[i];' : `hidden[i] = act_${act}(pre_up[i]);`);
    forward.push(a.finish1d(L.rows * H));
  }

  // Forward 2: out = hidden·downᵀ.
  const down = new KernelWriter(ctx, `${kind}_down`, 'forward');
  const downVec = fused && depthVectors(fwdTile, H);
  down.bind('hidden', hidden, 'read', downVec ? 'vec4f' : 'f32');
  bindRows(down, ctx, L, false);
  down.bind('w_down', downW, 'read', downVec ? 'vec4f' : 'f32');
  const downStore4 = columnVectors(fwdTile, d);
  down.bind('out', out, 'read_write', outTy(downStore4));
  const downSpec: GemmSpec = {
    ...groupSpec(L),
    tile: fwdTile,
    ...(downVec ? { vec4: { a: (i: number, k4: string) => `hidden[r${i} * ${H / 4}u + ${k4}]`, b: [(k4: string, c: string) => `w_down[${L.downIndex4('grp', c, k4)}]`] } } : {}),
    cols: d,
    depthEnd: `${H}u`,
    a: (i, k) => `hidden[r${i} * ${H}u + ${k}]`,
    b: [(k, c) => `w_down[${L.downIndex('grp', c, k)}]`],
    store: (i, c, acc) => [`out[r${i} * ${d}u + ${c}] = ${acc[0]};`],
    ...(downStore4 ? { store4: (i: number, c4: string, acc: readonly string[]) => [`out[r${i} * ${d / 4}u + ${c4}] = ${acc[0]};`] } : {}),
  };
  forward.push(gemmKernel(down, downSpec));

  // Backward.
  const backward: Kernel[] = [];
  const dOut = ctx.grad(op.kind === 'ffn' ? op.outputs.y : op.outputs.out);
  const dPreUp = ctx.scratch('d_pre_up', L.rows * H);
  const dPreGate = L.gated ? ctx.scratch('d_pre_gate', L.rows * H) : '';

  // 1. d hidden = dout·down, times the activation's derivative.
  const gh = new KernelWriter(ctx, `${kind}_down_grad_hidden`, 'backward');
  const inTile = gemmTile(ctx.target, 'input_grad');
  const wTile = gemmTile(ctx.target, 'weight_grad');
  const ghVec = columnVectors(inTile, H);
  const ghA4 = ghVec && d % 4 === 0;
  gh.bind('d_out', dOut, 'read', ghA4 ? 'vec4f' : 'f32');
  bindRows(gh, ctx, L, false);
  gh.bind('w_down', downW, 'read', ghVec ? 'vec4f' : 'f32');
  gh.bind('pre_up', preUp, 'read', outTy(ghVec));
  if (L.gated) gh.bind('pre_gate', preGate, 'read', outTy(ghVec));
  gh.bind('d_pre_up', dPreUp, 'read_write', outTy(ghVec));
  if (L.gated) gh.bind('d_pre_gate', dPreGate, 'read_write', outTy(ghVec));
  gh.declare(L.gated ? wgslHelpers('act_silu', 'dact_silu') : wgslHelpers(`dact_${act}`));
  const ghSpec: GemmSpec = {
    ...groupSpec(L),
    tile: inTile,
    contiguous: { a: 'k', b: 'col' },
    cols: H,
    depthEnd: `${d}u`,
    a: (i, k) => `d_out[r${i} * ${d}u + ${k}]`,
    b: [(k, c) => `w_down[${L.downIndex('grp', k, c)}]`],
    ...(ghVec ? { vec4Cols: [(k: string, c4: string) => `w_down[${L.downIndex4('grp', k, c4)}]`] } : {}),
    ...(ghA4 ? { vec4ColsA: (i: number, k4: string) => `d_out[r${i} * ${d / 4}u + ${k4}]` } : {}),
    store: (i, c, acc) => {
      const at = `r${i} * ${H}u + ${c}`;
      return L.gated
        ? [`let g = pre_gate[${at}];`, `let u = pre_up[${at}];`, `d_pre_up[${at}] = ${acc[0]} * act_silu(g);`, `d_pre_gate[${at}] = ${acc[0]} * u * dact_silu(g);`]
        : [`d_pre_up[${at}] = ${acc[0]} * dact_${act}(pre_up[${at}]);`];
    },
    ...(ghVec
      ? {
          store4: (i: number, c4: string, acc: readonly string[]) => {
            const at = `r${i} * ${H / 4}u + ${c4}`;
            return L.gated
              ? [`let g = pre_gate[${at}];`, `let u = pre_up[${at}];`, `d_pre_up[${at}] = ${acc[0]} * ${componentwise('act_silu', 'g')};`, `d_pre_gate[${at}] = ${acc[0]} * u * ${componentwise('dact_silu', 'g')};`]
              : [`let p = pre_up[${at}];`, `d_pre_up[${at}] = ${acc[0]} * ${componentwise(`dact_${act}`, 'p')};`];
          },
        }
      : {}),
  };
  backward.push(gemmKernel(gh, ghSpec));

  // 2. d down[e] += Σ_rows doutᵀ·hidden.
  if (ctx.needsGrad(op.inputs.down)) {
    const gw = new KernelWriter(ctx, `${kind}_down_grad_weight`, 'backward');
    const vec = columnVectors(wTile, H);
    const rv = vec && rowVectors(wTile, d);
    gw.bind('d_out', dOut, 'read', rv ? 'vec4f' : 'f32');
    gw.bind('hidden', hidden, 'read', vec ? 'vec4f' : 'f32');
    bindRows(gw, ctx, L, false);
    gw.bind('d_w_down', ctx.grad(op.inputs.down), 'read_write', outTy(vec));
    const spec: GemmSpec = {
      groups: L.groups,
      tile: wTile,
      contiguous: { a: 'row', b: 'col' },
      ...(vec ? { vec4Cols: [(k: string, c4: string) => `hidden[${k} * ${H / 4}u + ${c4}]`] } : {}),
      ...(rv ? { vec4Rows: (k: string, r4: string) => `d_out[${k} * ${d / 4}u + ${r4}]` } : {}),
      rows: d,
      cols: H,
      depthBegin: L.rowBegin,
      depthEnd: L.rowEnd,
      a: (i, k) => `d_out[${k} * ${d}u + r${i}]`,
      b: [(k, c) => `hidden[${k} * ${H}u + ${c}]`],
      store: (i, c, acc) => [`d_w_down[${L.downIndex('grp', `r${i}`, c)}] += ${acc[0]};`],
      ...(vec ? { store4: (i: number, c4: string, acc: readonly string[]) => [`d_w_down[${L.downIndex4('grp', `r${i}`, c4)}] += ${acc[0]};`] } : {}),
    };
    backward.push(gemmKernel(gw, spec));
  }

  // 3. d input rows = d_pre·up (+ d_pre_gate·gate).
  if (ctx.needsGrad(op.inputs.x)) {
    const gatherRows = L.gather;
    const dRows = gatherRows ? ctx.scratch('d_input_rows', L.rows * d) : ctx.grad(op.inputs.x);
    const gi = new KernelWriter(ctx, `${kind}_up_grad_input`, 'backward');
    const vec = columnVectors(inTile, d);
    const a4 = vec && H % 4 === 0;
    gi.bind('d_pre_up', dPreUp, 'read', a4 ? 'vec4f' : 'f32');
    if (L.gated) gi.bind('d_pre_gate', dPreGate, 'read', a4 ? 'vec4f' : 'f32');
    bindRows(gi, ctx, L, false);
    gi.bind('w_up', upW, 'read', vec ? 'vec4f' : 'f32');
    if (L.gated) gi.bind('w_gate', gateW, 'read', vec ? 'vec4f' : 'f32');
    gi.bind('d_rows', dRows, 'read_write', outTy(vec));
    const up4 = (name: string, h: string, c4: string) => `${name}[${L.upIndex4('grp', h, c4)}]`;
    const spec: GemmSpec = {
      ...groupSpec(L),
      tile: inTile,
      contiguous: { a: 'k', b: 'col' },
      cols: d,
      depthEnd: `${H}u`,
      a: (i, k) => `d_pre_up[r${i} * ${H}u + ${k}]`,
      b: [(k, c) => `w_up[${L.upIndex('grp', k, c)}]`],
      ...(vec
        ? {
            vec4Cols: [
              L.gated
                ? (k: string, c4: string) => `select(${up4('w_up', `min(${k}, ${H - 1}u)`, c4)}, ${up4('w_gate', `(${k} % ${H}u)`, c4)}, ${k} >= ${H}u)`
                : (k: string, c4: string) => up4('w_up', k, c4),
            ],
            ...(a4
              ? {
                  vec4ColsA: L.gated
                    ? (i: number, k4: string) => `select(d_pre_up[r${i} * ${H / 4}u + min(${k4}, ${H / 4 - 1}u)], d_pre_gate[r${i} * ${H / 4}u + (${k4} % ${H / 4}u)], ${k4} >= ${H / 4}u)`
                    : (i: number, k4: string) => `d_pre_up[r${i} * ${H / 4}u + ${k4}]`,
                }
              : {}),
          }
        : {}),
      store: (i, c, acc) => [`d_rows[r${i} * ${d}u + ${c}] ${gatherRows ? '=' : '+='} ${acc[0]};`],
      ...(vec ? { store4: (i: number, c4: string, acc: readonly string[]) => [`d_rows[r${i} * ${d / 4}u + ${c4}] ${gatherRows ? '=' : '+='} ${acc[0]};`] } : {}),
    };
    backward.push(gemmKernel(gi, L.gated ? gatedInputSpec(spec, L) : spec));
    if (L.tables) backward.push(gatherRowsKernel(ctx, dRows, L, L.tables));
  }

  // 4. d up[e] (and d gate[e]) += Σ_rows d_preᵀ·input.
  for (const [name, weight, dPre] of [['up', op.inputs.up, dPreUp], ...(L.gateWeight ? [['gate', L.gateWeight, dPreGate]] : [])] as [string, string, string][]) {
    if (!ctx.needsGrad(weight)) continue;
    const gw = new KernelWriter(ctx, `${kind}_${name}_grad_weight`, 'backward');
    const vec = columnVectors(wTile, d);
    const rv = vec && rowVectors(wTile, H);
    gw.bind('d_pre', dPre, 'read', rv ? 'vec4f' : 'f32');
    gw.bind('x', x, 'read', vec ? 'vec4f' : 'f32');
    bindRows(gw, ctx, L, true);
    gw.bind('d_w', ctx.grad(weight), 'read_write', outTy(vec));
    const src = L.gather ? (k: string) => `u32(max(slot_token[${k}], 0))` : (k: string) => k;
    const spec: GemmSpec = {
      groups: L.groups,
      tile: wTile,
      contiguous: { a: 'row', b: 'col' },
      ...(vec ? { vec4Cols: [(k: string, c4: string) => `x[${src(k)} * ${d / 4}u + ${c4}]`] } : {}),
      ...(rv ? { vec4Rows: (k: string, r4: string) => `d_pre[${k} * ${H / 4}u + ${r4}]` } : {}),
      rows: H,
      cols: d,
      depthBegin: L.rowBegin,
      depthEnd: L.rowEnd,
      a: (i, k) => `d_pre[${k} * ${H}u + r${i}]`,
      b: [(k, c) => `x[${src(k)} * ${d}u + ${c}]`],
      store: (i, c, acc) => [`d_w[${L.upIndex('grp', `r${i}`, c)}] += ${acc[0]};`],
      ...(vec ? { store4: (i: number, c4: string, acc: readonly string[]) => [`d_w[${L.upIndex4('grp', `r${i}`, c4)}] += ${acc[0]};`] } : {}),
    };
    backward.push(gemmKernel(gw, spec));
  }
  return { forward, backward };
}

/** For gated FFNs the input gradient reduces over both d_pre_up·up and d_pre_gate·gate: k in [0, 2H). */
function gatedInputSpec(spec: GemmSpec, L: Layout): GemmSpec {
  const H = L.hidden;
  return {
    ...spec,
    depthEnd: `${2 * H}u`,
    a: (i, k) => `select(d_pre_up[r${i} * ${H}u + min(${k}, ${H - 1}u)], d_pre_gate[r${i} * ${H}u + (${k} % ${H}u)], ${k} >= ${H}u)`,
    b: [(k, c) => `select(w_up[${L.upIndex('grp', `min(${k}, ${H - 1}u)`, c)}], w_gate[${L.upIndex('grp', `(${k} % ${H}u)`, c)}], ${k} >= ${H}u)`],
  };
}

/** dx[t] += Σ_j d_rows[token_slot[t, j]]: each token sums its own rows, in choice order. */
function gatherRowsKernel(ctx: FfnContext, dRows: string, L: Layout, tables: NonNullable<Layout['tables']>): Kernel {
  const { op } = ctx;
  const [N, K] = ctx.shape(tables.tokenSlot) as [number, number];
  const d = L.d;
  const { ty, dv, splat } = columnsPerThread(ctx.target, d);
  const w = new KernelWriter(ctx, 'expert_gather_grad_input', 'backward');
  w.bind('d_rows', dRows, 'read', ty);
  w.bind('token_slot', ctx.tensor(tables.tokenSlot), 'read', 'i32');
  w.bind('d_x', ctx.grad(op.inputs.x), 'read_write', ty);
  w.body(
    `let t = i / ${dv}u;`,
    `let c = i % ${dv}u;`,
    `var sum = ${splat('0.0')};`,
    `${loopU('j', K)}`,
    `  let row = token_slot[${mulU('t', K)} + j];`,
    `  if (row >= 0) { sum += d_rows[u32(row) * ${dv}u + c]; }`,
    '}',
    'd_x[i] += sum;',
  );
  return w.finish1d(N * dv);
}

/** The kernel generators of this file's op kinds. */
export const FFN_KERNELS: KernelTable<'ffn' | 'expert_ffn'> = {
  ffn: ffnKernels,
  expert_ffn: ffnKernels,
};
