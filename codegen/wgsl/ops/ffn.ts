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
import { baseActivation } from '../activations.ts';
import { gemmKernels, type EpilogueValues, type GemmOutput, type GemmSpec } from '../gemm.ts';
import { columnMajor, rowMajor, transpose, type MatrixView, type Stride } from '../gemm_view.ts';
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
  /** The gate weight (swiglu only). */
  readonly gateWeight?: string;
  /** The routing tables of gathered rows (present exactly when the op gathers, as the verifier of expert_ffn requires). */
  readonly tables?: { readonly slotToken: string; readonly tokenSlot: string; readonly offsets: string };
  /** Up (and gate) weights as [hidden unit, input column] of group `grp`. */
  upWeights(binding: string, buffer: string): MatrixView;
  /** Down weights as [output column, hidden unit] of group `grp`. */
  downWeights(binding: string, buffer: string): MatrixView;
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
    // K FFNs summed = one FFN of hidden K·H whose down weight [K, d, H] is read as [d, K·H].
    const hiddenStride: Stride = K === 1 ? 1 : { block: H, outer: d * H, inner: 1 };
    return {
      rows: N, rowsPerGroup: N, groups: 1, d, hidden: K * H, gated, activation, rowBegin: '0u', rowEnd: `${N}u`, gateWeight,
      upWeights: (binding, buffer) => rowMajor(binding, buffer, d),
      downWeights: (binding, buffer) => ({ binding, buffer, strides: [H, hiddenStride] }),
    };
  }
  const R = op.attrs.rows;
  const gather = op.attrs.gather;
  const perExpert = op.attrs.rows_per_expert;
  const { slot_token: slotToken, token_slot: tokenSlot, expert_offsets: offsets } = op.inputs;
  return {
    rows: R, rowsPerGroup: perExpert, groups: K, d, hidden: H, gated, activation, gateWeight,
    ...(gather && slotToken && tokenSlot && offsets ? { tables: { slotToken, tokenSlot, offsets } } : {}),
    rowBegin: gather ? 'u32(offsets[grp])' : `grp * ${perExpert}u`,
    rowEnd: gather ? 'u32(offsets[grp + 1u])' : `(grp + 1u) * ${perExpert}u`,
    upWeights: (binding, buffer) => rowMajor(binding, buffer, d, { groupStride: H * d }),
    downWeights: (binding, buffer) => rowMajor(binding, buffer, H, { groupStride: d * H }),
  };
}

/** Row ranges of a GEMM over the op's rows: packed per expert when routed (gathered), fixed groups otherwise. */
function groupSpec(L: Layout): Pick<GemmSpec, 'groups' | 'rows' | 'rowBegin' | 'rowEnd' | 'packedRows'> {
  if (L.tables) return { rows: L.rowsPerGroup, packedRows: { experts: L.groups, offset: (e) => `u32(offsets[${e}])`, maxRows: L.rows } };
  return { groups: L.groups, rows: L.rowsPerGroup, rowBegin: L.rowBegin, rowEnd: L.rowEnd };
}

/** A [rows, d]-wide view of the op's input rows: gathered through slot_token when routed. */
function inputRows(L: Layout, binding: string, buffer: string, ctx: FfnContext): MatrixView {
  return rowMajor(binding, buffer, L.d, L.tables ? { gather: { binding: 'slot_token', buffer: ctx.tensor(L.tables.slotToken) } } : {});
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
  // Gathered layouts read each expert's row range from the offsets table.
  const offsets = (w: KernelWriter) => {
    if (L.tables) w.bind('offsets', ctx.tensor(L.tables.offsets), 'read', 'i32');
  };
  const fwdTile = gemmTile(ctx.target, 'forward');
  const inTile = gemmTile(ctx.target, 'input_grad');
  const wTile = gemmTile(ctx.target, 'weight_grad');

  // Forward 1: pre = x·upᵀ (and gate), hidden = act(pre) or silu(gate) ⊙ up, in the epilogue.
  const forward = gemmKernels(ctx, 'forward', {
    template: `${kind}_up`,
    ...groupSpec(L),
    cols: H,
    depth: d,
    tile: fwdTile,
    a: inputRows(L, 'x', x, ctx),
    b: [transpose(L.upWeights('w_up', upW)), ...(L.gated ? [transpose(L.upWeights('w_gate', gateW))] : [])],
    outputs: [
      { view: rowMajor('pre_up', preUp, H), value: (v) => v.acc(0) },
      ...(L.gated ? [{ view: rowMajor('pre_gate', preGate, H), value: (v: EpilogueValues) => v.acc(1) }] : []),
      L.gated
        ? { view: rowMajor('hidden', hidden, H), derived: true, helpers: ['act_silu'], value: (v: EpilogueValues) => `${v.map('act_silu', v.out('pre_gate'))} * ${v.out('pre_up')}` }
        : { view: rowMajor('hidden', hidden, H), derived: true, helpers: [`act_${act}`], value: (v: EpilogueValues) => v.map(`act_${act}`, v.out('pre_up')) },
    ],
    extra: offsets,
  });

  // Forward 2: out = hidden·downᵀ.
  forward.push(
    ...gemmKernels(ctx, 'forward', {
      template: `${kind}_down`,
      ...groupSpec(L),
      cols: d,
      depth: H,
      tile: fwdTile,
      a: rowMajor('hidden', hidden, H),
      b: [transpose(L.downWeights('w_down', downW))],
      outputs: [{ view: rowMajor('out', out, d), value: (v) => v.acc(0) }],
      extra: offsets,
    }),
  );

  // Backward.
  const backward: Kernel[] = [];
  const dOut = ctx.grad(op.kind === 'ffn' ? op.outputs.y : op.outputs.out);
  const dPreUp = ctx.scratch('d_pre_up', L.rows * H);
  const dPreGate = L.gated ? ctx.scratch('d_pre_gate', L.rows * H) : '';

  // 1. d hidden = dout·down, times the activation's derivative.
  const gatedGrads: GemmOutput[] = [
    { view: rowMajor('d_pre_up', dPreUp, H), value: (v) => `${v.acc(0)} * ${v.map('act_silu', v.read('pre_gate'))}` },
    { view: rowMajor('d_pre_gate', dPreGate, H), value: (v) => `${v.acc(0)} * ${v.read('pre_up')} * ${v.map('dact_silu', v.read('pre_gate'))}` },
  ];
  backward.push(
    ...gemmKernels(ctx, 'backward', {
      template: `${kind}_down_grad_hidden`,
      ...groupSpec(L),
      cols: H,
      depth: d,
      tile: inTile,
      a: rowMajor('d_out', dOut, d),
      b: [L.downWeights('w_down', downW)],
      reads: [rowMajor('pre_up', preUp, H), ...(L.gated ? [rowMajor('pre_gate', preGate, H)] : [])],
      outputs: L.gated
        ? gatedGrads.map((o) => ({ ...o, helpers: ['act_silu', 'dact_silu'] }))
        : [{ view: rowMajor('d_pre_up', dPreUp, H), helpers: [`dact_${act}`], value: (v) => `${v.acc(0)} * ${v.map(`dact_${act}`, v.read('pre_up'))}` }],
      extra: offsets,
    }),
  );

  // 2. d down[e] += Σ_rows doutᵀ·hidden.
  if (ctx.needsGrad(op.inputs.down)) {
    backward.push(
      ...gemmKernels(ctx, 'backward', {
        template: `${kind}_down_grad_weight`,
        groups: L.groups,
        rows: d,
        cols: H,
        depth: { begin: L.rowBegin, end: L.rowEnd },
        tile: wTile,
        a: columnMajor('d_out', dOut, d),
        b: [rowMajor('hidden', hidden, H)],
        outputs: [{ view: L.downWeights('d_w_down', ctx.grad(op.inputs.down)), accumulate: true, value: (v) => v.acc(0) }],
        extra: offsets,
      }),
    );
  }

  // 3. d input rows = d_pre·up (+ d_pre_gate·gate: one reduction over [d_pre_up | d_pre_gate], k in [0, 2H)).
  if (ctx.needsGrad(op.inputs.x)) {
    const dRows = L.tables ? ctx.scratch('d_input_rows', L.rows * d) : ctx.grad(op.inputs.x);
    const dPre = rowMajor('d_pre_up', dPreUp, H);
    const wUp = L.upWeights('w_up', upW);
    backward.push(
      ...gemmKernels(ctx, 'backward', {
        template: `${kind}_up_grad_input`,
        ...groupSpec(L),
        cols: d,
        depth: L.gated ? 2 * H : H,
        tile: inTile,
        a: L.gated ? { concat: [dPre, rowMajor('d_pre_gate', dPreGate, H)], at: H } : dPre,
        b: [L.gated ? { concat: [wUp, L.upWeights('w_gate', gateW)], at: H } : wUp],
        // Gathered rows are summed per token afterwards; a dense input accumulates directly.
        outputs: [{ view: rowMajor('d_rows', dRows, d), accumulate: !L.tables, value: (v) => v.acc(0) }],
        extra: offsets,
      }),
    );
    if (L.tables) backward.push(gatherRowsKernel(ctx, dRows, L, L.tables));
  }

  // 4. d up[e] (and d gate[e]) += Σ_rows d_preᵀ·input.
  for (const [name, weight, dPre] of [['up', op.inputs.up, dPreUp], ...(L.gateWeight ? [['gate', L.gateWeight, dPreGate]] : [])] as [string, string, string][]) {
    if (!ctx.needsGrad(weight)) continue;
    backward.push(
      ...gemmKernels(ctx, 'backward', {
        template: `${kind}_${name}_grad_weight`,
        groups: L.groups,
        rows: H,
        cols: d,
        depth: { begin: L.rowBegin, end: L.rowEnd },
        tile: wTile,
        a: columnMajor('d_pre', dPre, H),
        b: [inputRows(L, 'x', x, ctx)],
        outputs: [{ view: L.upWeights('d_w', ctx.grad(weight)), accumulate: true, value: (v) => v.acc(0) }],
        extra: offsets,
      }),
    );
  }
  return { forward, backward };
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
