/**
 * GEMM kernels: each thread computes a TM x TN tile of C = A·B, either
 * reading its operands itself (register-blocked, no workgroup memory: the
 * fastest kind on lavapipe; see docs/PERFORMANCE.md) or, for a tile with a
 * k-depth, from k-slices its workgroup staged in workgroup memory (what
 * real GPUs reward). Operands are strided views (gemm_view.ts) from which
 * this stage derives every load, scalar or 16-byte, so one generator serves
 * plain matmuls, transposed weight gradients and grouped expert GEMMs that
 * gather their rows by index (no permuted copies). Whatever the tile and the
 * loads, every output sums over k in order with one fma per k, so all give
 * bit-identical results.
 *
 * Several B operands may share one A (up and gate of a gated FFN): each gets
 * its own accumulators, and the epilogue sees all of them.
 *
 * The unfused benchmark baseline (`target.fusion === false`) is an option of
 * this stage, not of the ops: it materialises gathered rows in a copy pass,
 * writes derived outputs (activations) in an elementwise pass of their own,
 * and keeps scalar loads and one output per thread.
 */
import { wgslHelpers } from '../rowmath/functions.ts';
import { componentwise } from './activations.ts';
import { contiguousAlong, elementIndex, gatheredRow, operandVectorizable, rowMajor, vectorIndex, vectorizable, viewsOf, type MatrixView, type Operand } from './gemm_view.ts';
import { DEFAULT_GEMM_TILE, stagedDepth, type GemmTile, type Kernel } from './kernel.ts';
import { KernelWriter, WG, type OpContext } from './kernel_writer.ts';
import { addU, divU, group, plusU } from './wgsl_fold.ts';

/** What the epilogue of one output computes from. */
export interface EpilogueValues {
  /** Operand o's accumulator (f32, or vec4<f32> over 4 columns). */
  acc(o: number): string;
  /** An epilogue input (GemmSpec.reads) at this element. */
  read(binding: string): string;
  /** The value an earlier output stores at this element. */
  out(binding: string): string;
  /** A scalar function applied to each lane of `x` (a name or an index). */
  map(fn: string, x: string): string;
}

/** One buffer the GEMM's epilogue writes, with the value it stores. */
export interface GemmOutput {
  readonly view: MatrixView;
  /** Add into the buffer (gradients accumulate) instead of writing it. */
  readonly accumulate?: boolean;
  /** The value stored at one element, or at four consecutive columns at once. */
  readonly value: (v: EpilogueValues) => string;
  /** Scalar functions the value calls (codegen/rowmath/functions.ts), declared where it is computed. */
  readonly helpers?: readonly string[];
  /**
   * Computed from earlier outputs only (an activation of the pre-activation
   * it follows): fused into the epilogue, except in the unfused baseline,
   * which writes it in an elementwise pass of its own.
   */
  readonly derived?: boolean;
}

export interface GemmSpec {
  /** The kernel's template name (`expert_up`). */
  readonly template: string;
  /** Bound on the rows of one group (the dispatch covers this many). */
  readonly rows: number;
  readonly cols: number;
  /** Independent problems (experts); loads and stores see `grp: u32`. */
  readonly groups?: number;
  /** First row and end row of the group (WGSL u32 expressions; may use `grp`). Default 0 and `rows`. */
  readonly rowBegin?: string;
  readonly rowEnd?: string;
  /** The reduction: [0, depth), or a range of WGSL u32 expressions that may use `grp`. */
  readonly depth: number | { readonly begin: string; readonly end: string };
  /** A: [row, k]. */
  readonly a: Operand;
  /** B operands: [k, col]. */
  readonly b: readonly Operand[];
  /** What the epilogue writes, in order; runs only for valid rows and columns. */
  readonly outputs: readonly GemmOutput[];
  /** Buffers the epilogue reads (at the outputs' rows and columns). */
  readonly reads?: readonly MatrixView[];
  /** Tile of outputs per thread (and the staged k-depth of a workgroup-tiled GEMM). */
  readonly tile?: GemmTile;
  /**
   * Groups whose row ranges are known only on the GPU (experts of a
   * token-choice layer): instead of a grid of groups × their largest
   * possible row count, tiles are packed — block b belongs to the expert
   * whose blocks cover b — so no workgroup is spent on rows an expert did not
   * get. `offset(e)` is expert e's first row (offset(experts) = rows used).
   */
  readonly packedRows?: { readonly experts: number; readonly offset: (e: string) => string; readonly maxRows: number };
  /** Bindings and declarations that factors, offsets or values use beyond the views (the router's temperature, jitter noise). */
  readonly extra?: (w: KernelWriter) => void;
}

/**
 * Which loads and stores are 16 bytes wide, derived from the views:
 * - depth: A and B both contiguous along the reduction (y = x·Wᵀ): vec4 along k;
 * - cols: B contiguous along its columns (gradient GEMMs): vec4 across 4
 *   columns, with A read 4 k at a time when it is contiguous in k (measured
 *   on lavapipe: up to 2x faster input-gradient GEMMs at the same tile), or
 *   4 rows at a time when contiguous along its rows (weight gradients);
 * - store4: outputs (and epilogue reads) written 4 columns at a time.
 */
interface LoadPlan {
  readonly mode: 'depth' | 'cols' | 'scalar';
  readonly aAlong?: 'k' | 'row';
  readonly store4: boolean;
}

function loadPlan(fused: boolean, g: GemmSpec, a: Operand, outputs: readonly GemmOutput[]): LoadPlan {
  const t = g.tile ?? DEFAULT_GEMM_TILE;
  if (!fused || stagedDepth(t)) return { mode: 'scalar', store4: false };
  const depth = typeof g.depth === 'number' ? g.depth : undefined;
  const colTile = t[1] % 4 === 0 && g.cols % 4 === 0;
  const store4 = colTile && [...outputs.map((o) => o.view), ...(g.reads ?? [])].every((v) => vectorizable(v, 1, g.cols));
  if (depth !== undefined && depth % 4 === 0 && operandVectorizable(a, 1, depth, 1) && g.b.every((b) => operandVectorizable(b, 0, depth, 0))) return { mode: 'depth', store4 };
  if (colTile && g.b.every((b) => operandVectorizable(b, 1, g.cols, 0))) {
    if (depth !== undefined && depth % 4 === 0 && operandVectorizable(a, 1, depth, 1)) return { mode: 'cols', aAlong: 'k', store4 };
    if (!('concat' in a) && t[0] % 4 === 0 && g.rows % 4 === 0 && !g.rowBegin && vectorizable(a, 0, g.rows)) return { mode: 'cols', aAlong: 'row', store4 };
    return { mode: 'cols', store4 };
  }
  return { mode: 'scalar', store4 };
}

/** Rows a GEMM's outputs span in all: every group's rows, or the packed rows used at most. */
function totalRows(g: GemmSpec): number {
  return g.packedRows ? g.packedRows.maxRows : (g.groups ?? 1) * g.rows;
}

/**
 * The kernels of one GEMM: the GEMM itself, preceded by a row copy and
 * followed by an elementwise pass in the unfused baseline when it gathers
 * rows or has derived outputs.
 */
export function gemmKernels(ctx: OpContext, pass: 'forward' | 'backward', g: GemmSpec): Kernel[] {
  const fused = ctx.target.fusion !== false;
  const kernels: Kernel[] = [];
  let a = g.a;
  if (!fused && !('concat' in a) && a.gather) {
    const copy = gatherCopy(ctx, pass, g, a);
    kernels.push(copy.kernel);
    a = copy.view;
  }
  const outputs = fused ? g.outputs : g.outputs.filter((o) => !o.derived);
  const plan = loadPlan(fused, g, a, outputs);
  const w = new KernelWriter(ctx, g.template, pass);
  const vecA = plan.mode === 'depth' || plan.aAlong !== undefined;
  for (const v of viewsOf(a)) w.bind(v.binding, v.buffer, 'read', vecA ? 'vec4f' : 'f32');
  for (const b of g.b) for (const v of viewsOf(b)) w.bind(v.binding, v.buffer, 'read', plan.mode === 'scalar' ? 'f32' : 'vec4f');
  const tables = new Map([a, ...g.b].flatMap((o) => viewsOf(o)).flatMap((v) => (v.gather ? [[v.gather.binding, v.gather.buffer] as const] : [])));
  for (const [binding, buffer] of tables) w.bind(binding, buffer, 'read', 'i32');
  g.extra?.(w);
  for (const v of g.reads ?? []) w.bind(v.binding, v.buffer, 'read', plan.store4 ? 'vec4f' : 'f32');
  for (const o of outputs) w.bind(o.view.binding, o.view.buffer, 'read_write', plan.store4 ? 'vec4f' : 'f32');
  const helpers = [...new Set(outputs.flatMap((o) => o.helpers ?? []))];
  if (helpers.length) w.declare(wgslHelpers(...helpers));
  const spec = { ...g, a };
  if (stagedDepth(g.tile ?? DEFAULT_GEMM_TILE)) {
    writeStagedGemm(w, spec, outputs);
    kernels.push(w.finishWorkgroups(gemmBlocks(g)));
  } else {
    writeGemm(w, spec, plan, outputs);
    const threads = gemmBlocks(g);
    // A GEMM of few tiles (a router's weight gradient: 8 experts x width) gets
    // smaller workgroups, so it still spreads over several of them (and CPU
    // cores): 16 threads as 2 x 8 ran in 1.7 ms against 2.7 as one workgroup.
    let size = WG;
    while (size > 8 && threads < size * 8) size /= 2;
    kernels.push(w.finish1d(threads, size));
  }
  if (!fused && g.outputs.some((o) => o.derived)) kernels.push(derivedPass(ctx, pass, g));
  return kernels;
}

/** The unfused baseline's permuted copy of gathered A rows (zero for an empty slot), and the dense view that replaces them. */
function gatherCopy(ctx: OpContext, pass: 'forward' | 'backward', g: GemmSpec, a: MatrixView): { kernel: Kernel; view: MatrixView } {
  if (typeof g.depth !== 'number' || !a.gather) throw new Error(`internal: ${g.template} gathers rows over a dynamic reduction`);
  const D = g.depth;
  const rows = ctx.scratch(`${g.template}_rows`, totalRows(g) * D);
  const w = new KernelWriter(ctx, `${g.template}_gather_rows`, pass);
  w.bind(a.binding, a.buffer, 'read');
  w.bind(a.gather.binding, a.gather.buffer, 'read', 'i32');
  w.bind('rows', rows, 'read_write');
  w.body(`let t = ${a.gather.binding}[${divU('i', D)}];`, `rows[i] = select(0.0, ${a.binding}[${elementIndex(a, 'u32(max(t, 0))', `i % ${D}u`)}], t >= 0);`);
  return { kernel: w.finish1d(totalRows(g) * D), view: rowMajor(a.binding, rows, D) };
}

/** The unfused baseline's elementwise pass for derived outputs: each element from the stored outputs it depends on. */
function derivedPass(ctx: OpContext, pass: 'forward' | 'backward', g: GemmSpec): Kernel {
  const derived = g.outputs.filter((o) => o.derived);
  const w = new KernelWriter(ctx, `${g.template}_epilogue`, pass);
  const dense = (v: MatrixView) => {
    if (v.groupStride || v.factor || v.strides[0] !== g.cols || v.strides[1] !== 1) throw new Error(`internal: ${g.template}'s derived output reads ${v.binding}, which is not a dense [rows, ${g.cols}] buffer`);
    return v;
  };
  const sources = new Set<string>();
  const values: EpilogueValues = {
    acc: () => {
      throw new Error(`internal: a derived output of ${g.template} reads an accumulator`);
    },
    read: (b) => {
      throw new Error(`internal: a derived output of ${g.template} reads ${b}`);
    },
    out: (b) => {
      sources.add(b);
      return `${b}[i]`;
    },
    map: (fn, x) => `${fn}(${x})`,
  };
  const lines = derived.map((o) => `${dense(o.view).binding}[i] ${o.accumulate ? '+=' : '='} ${o.value(values)};`);
  for (const o of g.outputs) if (!o.derived && sources.has(o.view.binding)) w.bind(dense(o.view).binding, o.view.buffer, 'read');
  for (const o of derived) w.bind(o.view.binding, o.view.buffer, 'read_write');
  w.declare(wgslHelpers(...new Set(derived.flatMap((o) => o.helpers ?? []))));
  w.body(...lines);
  return w.finish1d(totalRows(g) * g.cols);
}

/** Threads per side of a workgroup-tiled GEMM's block (8 x 8 = the 64-thread workgroup). */
const SIDE = 8;

/** Rows and columns one dispatch unit covers: a thread's tile, or a workgroup's block when staged. */
function blockShape(tile: GemmTile): [number, number] {
  return stagedDepth(tile) ? [SIDE * tile[0], SIDE * tile[1]] : [tile[0], tile[1]];
}

/** Blocks a GEMM dispatch covers (threads, or workgroups when staged). */
function gemmBlocks(g: GemmSpec): number {
  const [bm, bn] = blockShape(g.tile ?? DEFAULT_GEMM_TILE);
  if (g.packedRows) return (Math.ceil(g.packedRows.maxRows / bm) + g.packedRows.experts) * Math.ceil(g.cols / bn);
  return (g.groups ?? 1) * Math.ceil(g.rows / bm) * Math.ceil(g.cols / bn);
}

/**
 * The block a dispatch unit (index `unit`) computes: defines grp, row_begin,
 * row_end, row0 and col0, and returns early past the group's rows.
 */
function writeBlockOrigin(w: KernelWriter, g: GemmSpec, bm: number, bn: number, unit: string): void {
  const tilesM = Math.ceil(g.rows / bm);
  const tilesN = Math.ceil(g.cols / bn);
  if (g.packedRows) {
    const p = g.packedRows;
    w.body(
      `let block = ${unit} / ${tilesN}u;`,
      `let col0 = (${unit} % ${tilesN}u) * ${bn}u;`,
      '// Find the expert whose packed blocks cover this one.',
      `var grp = ${p.experts}u;`,
      'var first = 0u;',
      `for (var e = 0u; e < ${p.experts}u; e++) {`,
      `  let blocks = (${p.offset('e + 1u')} - ${p.offset('e')} + ${bm - 1}u) / ${bm}u;`,
      '  if (block < first + blocks) { grp = e; break; }',
      '  first += blocks;',
      '}',
      `if (grp == ${p.experts}u) { return; }`,
      `let row_begin = ${p.offset('grp')};`,
      `let row_end = ${p.offset('grp + 1u')};`,
      `let row0 = row_begin + (block - first) * ${bm}u;`,
    );
  } else {
    w.body(
      `let grp = ${unit} / ${tilesM * tilesN}u;`,
      `let tile = ${unit} % ${tilesM * tilesN}u;`,
      `let row_begin = ${g.rowBegin ?? '0u'};`,
      `let row_end = ${g.rowEnd ?? `${g.rows}u`};`,
      `let row0 = row_begin + (tile / ${tilesN}u) * ${bm}u;`,
      `let col0 = (tile % ${tilesN}u) * ${bn}u;`,
      '// Tiles past the group\'s rows have nothing to do.',
      'if (row0 >= row_end) { return; }',
    );
  }
}

/** The reduction range as WGSL u32 expressions. */
function depthRange(g: GemmSpec): { begin: string; end: string } {
  return typeof g.depth === 'number' ? { begin: '0u', end: `${g.depth}u` } : g.depth;
}

/** Every load the GEMM body may need, derived from the operands' views. */
interface Loads {
  /** Statements per tile row i (the row a gathered A reads, `src{i}`). */
  rowSetup(i: number): string[];
  /** A at tile row i and reduction index k; 4 k at once (k4 = k / 4); 4 rows at once (row4 = row / 4). */
  a(i: number, k: string): string;
  aK4(i: number, k4: string): string;
  aRow4(k: string, row4: string): string;
  /** B operand o at reduction index k and column col; 4 k at once; 4 columns at once (col4 = col / 4). */
  b(o: number, k: string, col: string): string;
  bK4(o: number, k4: string, col: string): string;
  bCol4(o: number, k: string, col4: string): string;
}

function loadsOf(g: GemmSpec): Loads {
  const depth = typeof g.depth === 'number' ? g.depth : undefined;
  // A concatenation splits the reduction at `at` (in vec4 units when 4 k load at once).
  const split = (o: Operand, k: string, per: number, load: (v: MatrixView, k: string) => string): string => {
    if (!('concat' in o)) return load(o, k);
    if (depth !== 2 * o.at) throw new Error(`internal: ${g.template} concatenates two operands of unequal depth`);
    const at = o.at / per;
    return `select(${load(o.concat[0], `min(${k}, ${at - 1}u)`)}, ${load(o.concat[1], `${group(k)} % ${at}u`)}, ${k} >= ${at}u)`;
  };
  const scaled = (v: MatrixView, load: string, i0: string, i1: string) => (v.factor ? `(${load} * ${v.factor(i0, i1)})` : load);
  const row = (v: MatrixView, i: number) => (v.gather ? `src${i}` : `r${i}`);
  const single = (o: Operand, what: string): MatrixView => {
    if ('concat' in o) throw new Error(`internal: ${g.template} loads ${what} of a concatenated operand`);
    return o;
  };
  if ([g.a, ...g.b].some((o) => 'concat' in o && o.concat.some((v) => v.gather))) throw new Error(`internal: ${g.template} gathers the rows of a concatenated operand`);
  return {
    rowSetup: (i) => ('concat' in g.a || !g.a.gather ? [] : [`let src${i} = ${gatheredRow(g.a, `r${i}`)};`]),
    a: (i, k) => split(g.a, k, 1, (v, kk) => scaled(v, `${v.binding}[${elementIndex(v, row(v, i), kk)}]`, `r${i}`, kk)),
    aK4: (i, k4) => split(g.a, k4, 4, (v, kk) => `${v.binding}[${vectorIndex(v, 1, row(v, i), kk)}]`),
    aRow4: (k, row4) => {
      const v = single(g.a, '4 rows');
      return `${v.binding}[${vectorIndex(v, 0, row4, k)}]`;
    },
    b: (o, k, col) => split(g.b[o]!, k, 1, (v, kk) => scaled(v, `${v.binding}[${elementIndex(v, gatheredRow(v, kk), col)}]`, kk, col)),
    bK4: (o, k4, col) => split(g.b[o]!, k4, 4, (v, kk) => `${v.binding}[${vectorIndex(v, 0, kk, col)}]`),
    bCol4: (o, k, col4) => split(g.b[o]!, k, 1, (v, kk) => `${v.binding}[${vectorIndex(v, 1, gatheredRow(v, kk), col4)}]`),
  };
}

/**
 * The epilogue statements at one element (lanes 1: row `row`, column `col`)
 * or at four columns (lanes 4: `col` = column / 4). Epilogue reads and
 * outputs that later outputs use get a `let` of their own (`v_pre_up`).
 */
function epilogueAt(g: GemmSpec, outputs: readonly GemmOutput[], acc: (o: number) => string, row: string, col: string, lanes: 1 | 4): string[] {
  const used = new Set<string>();
  const probe: EpilogueValues = { acc: () => '0.0', read: (b) => (used.add(b), b), out: (b) => (used.add(b), b), map: (_f, x) => x };
  for (const o of outputs) o.value(probe);
  const at = (v: MatrixView) => (lanes === 4 ? vectorIndex(v, 1, row, col) : elementIndex(v, row, col));
  const lines = (g.reads ?? []).filter((v) => used.has(v.binding)).map((v) => `let v_${v.binding} = ${v.binding}[${at(v)}];`);
  const stored = new Set<string>();
  const values: EpilogueValues = {
    acc,
    read: (b) => `v_${b}`,
    out: (b) => {
      if (!stored.has(b)) throw new Error(`internal: an output of ${g.template} reads ${b} before it is stored`);
      return `v_${b}`;
    },
    map: (fn, x) => (lanes === 4 ? componentwise(fn, x) : `${fn}(${x})`),
  };
  for (const o of outputs) {
    const b = o.view.binding;
    let value = o.value(values);
    if (o.view.factor) value = `${value} * ${o.view.factor(row, col)}`;
    if (used.has(b)) {
      lines.push(`let v_${b} = ${value};`);
      value = `v_${b}`;
    }
    lines.push(`${b}[${at(o.view)}] ${o.accumulate ? '+=' : '='} ${value};`);
    stored.add(b);
  }
  return lines;
}

/** The epilogue: each valid (row, column) of the thread's tile; `col(j)` is tile column j's offset from col0. */
function writeEpilogue(w: KernelWriter, g: GemmSpec, outputs: readonly GemmOutput[], acc: (o: number, i: number, j: number) => string, col: (j: number) => string): void {
  const [TM, TN] = g.tile ?? DEFAULT_GEMM_TILE;
  for (let i = 0; i < TM; i++) {
    for (let j = 0; j < TN; j++) {
      const lines = epilogueAt(g, outputs, (o) => acc(o, i, j), `r${i}`, `c${j}`, 1);
      w.body(`if (ok${i} && ${plusU('col0', col(j))} < ${g.cols}u) {`, ...lines.map((s) => `  ${s}`), '}');
    }
  }
}

/** 4-column epilogues: cols % 4 == 0 and col0 is a multiple of 4, so a column group is valid whole or not at all. */
function writeStores4(w: KernelWriter, g: GemmSpec, outputs: readonly GemmOutput[], groups: number, acc: (o: number, i: number, q: number) => string): void {
  const [TM] = g.tile ?? DEFAULT_GEMM_TILE;
  for (let i = 0; i < TM; i++) {
    for (let q = 0; q < groups; q++) {
      const lines = epilogueAt(g, outputs, (o) => acc(o, i, q), `r${i}`, q === 0 ? 'col0 / 4u' : `(col0 / 4u + ${q}u)`, 4);
      w.body(`if (ok${i} && ${addU('col0', 4 * q)} < ${g.cols}u) {`, ...lines.map((s) => `  ${s}`), '}');
    }
  }
}

/**
 * The workgroup-tiled GEMM: 8x8 threads compute an 8·TM x 8·TN block.
 * Per k-slice, the 64 threads stage the block's A rows and B columns in
 * workgroup memory (neighbouring threads loading neighbouring elements
 * along each operand's contiguous index), then each thread accumulates its
 * rows tr + 8i and columns tc + 8j from there. The slice loop runs only
 * over real k (no padded fmas), so sums match the register tiles' exactly.
 */
function writeStagedGemm(w: KernelWriter, g: GemmSpec, outputs: readonly GemmOutput[]): void {
  const [TM, TN, BK] = g.tile as readonly [number, number, number];
  const [BM, BN] = blockShape(g.tile!);
  const ops = g.b.length;
  const L = loadsOf(g);
  w.declare(`var<workgroup> tile_a: array<f32, ${BM * BK}>;  // [k][row]`, ...g.b.map((_, o) => `var<workgroup> tile_b${o}: array<f32, ${BN * BK}>;  // [k][column]`));
  writeBlockOrigin(w, g, BM, BN, 'wg');
  w.body(`let tr = lid / ${SIDE}u;`, `let tc = lid % ${SIDE}u;`);
  for (let i = 0; i < TM; i++) {
    w.body(`let ok${i} = ${addU('row0 + tr', SIDE * i)} < row_end;`, `let r${i} = min(${addU('row0 + tr', SIDE * i)}, row_end - 1u);`, ...L.rowSetup(i));
  }
  for (let j = 0; j < TN; j++) w.body(`let c${j} = min(${addU('col0 + tc', SIDE * j)}, ${g.cols - 1}u);`);
  // What each thread stages: element e = lid + 64q of the slice, walked along the operand's contiguous index.
  const along = (q: number, width: number, kFast: boolean) => {
    const e = `(lid + ${64 * q}u)`;
    return kFast ? { at: `${e} / ${BK}u`, k: `${e} % ${BK}u` } : { at: `${e} % ${width}u`, k: `${e} / ${width}u` };
  };
  const perA = (BM * BK) / 64;
  const perB = (BN * BK) / 64;
  const aKFast = contiguousAlong(viewsOf(g.a)[0]!, 1);
  const bKFast = g.b.length > 0 && contiguousAlong(viewsOf(g.b[0]!)[0]!, 0);
  w.body('// The rows and columns this thread stages (A rows get the same setup as tile rows, as r/src of index ≥ TM).');
  for (let q = 0; q < perA; q++) {
    const { at, k } = along(q, BM, aKFast);
    const R = TM + q;
    w.body(`let sa${q} = ${at};`, `let ka${q} = ${k};`, `let r${R} = min(row0 + sa${q}, row_end - 1u);`, ...L.rowSetup(R));
  }
  for (let q = 0; q < perB; q++) {
    const { at, k } = along(q, BN, bKFast);
    w.body(`let sb${q} = ${at};`, `let kb${q} = ${k};`, `let cb${q} = min(col0 + sb${q}, ${g.cols - 1}u);`);
  }
  for (let o = 0; o < ops; o++) w.body(`var acc${o}: array<f32, ${TM * TN}>;`);
  const { begin, end } = depthRange(g);
  w.body(`let k_begin = ${begin};`, `let k_end = ${end};`, `for (var k0 = k_begin; k0 < k_end; k0 += ${BK}u) {`, `  let kn = min(${BK}u, k_end - k0);`);
  for (let q = 0; q < perA; q++) w.body(`  tile_a[ka${q} * ${BM}u + sa${q}] = select(0.0, ${L.a(TM + q, `min(k0 + ka${q}, k_end - 1u)`)}, ka${q} < kn);`);
  for (let o = 0; o < ops; o++) {
    for (let q = 0; q < perB; q++) w.body(`  tile_b${o}[kb${q} * ${BN}u + sb${q}] = select(0.0, ${L.b(o, `min(k0 + kb${q}, k_end - 1u)`, `cb${q}`)}, kb${q} < kn);`);
  }
  w.body('  workgroupBarrier();', '  for (var kk = 0u; kk < kn; kk++) {');
  for (let i = 0; i < TM; i++) w.body(`    let a${i} = tile_a[${addU(`kk * ${BM}u + tr`, SIDE * i)}];`);
  for (let o = 0; o < ops; o++) {
    for (let j = 0; j < TN; j++) w.body(`    let b${o}_${j} = tile_b${o}[${addU(`kk * ${BN}u + tc`, SIDE * j)}];`);
    for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) w.body(`    acc${o}[${i * TN + j}] = fma(a${i}, b${o}_${j}, acc${o}[${i * TN + j}]);`);
  }
  w.body('  }', '  workgroupBarrier();', '}');
  writeEpilogue(w, g, outputs, (o, i, j) => `acc${o}[${i * TN + j}]`, (j) => addU('tc', SIDE * j));
}

/** Writes the register-blocked GEMM body into `w` (one thread per tile), with the loads `plan` chose. */
function writeGemm(w: KernelWriter, g: GemmSpec, plan: LoadPlan, outputs: readonly GemmOutput[]): void {
  const [TM, TN] = g.tile ?? DEFAULT_GEMM_TILE;
  const ops = g.b.length;
  const rowIdx = [...Array(TM).keys()];
  const colIdx = [...Array(TN).keys()];
  const L = loadsOf(g);
  const { begin, end } = depthRange(g);
  writeBlockOrigin(w, g, TM, TN, 'i');
  for (const i of rowIdx) w.body(`let ok${i} = ${addU('row0', i)} < row_end;`, `let r${i} = min(${addU('row0', i)}, row_end - 1u);`, ...L.rowSetup(i));
  for (const j of colIdx) w.body(`let c${j} = min(${addU('col0', j)}, ${g.cols - 1}u);`);
  if (plan.mode === 'cols') {
    // Accumulators as vec4 across columns; each k does TM scalar × (TN/4) vec4 FMAs.
    const groups = TN / 4;
    for (let o = 0; o < ops; o++) w.body(`var accv${o}: array<vec4<f32>, ${TM * groups}>;`);
    const fmaRow = (o: number, k: string, a: (i: number) => string, tag: string) => {
      for (let q = 0; q < groups; q++) w.body(`  let b${o}_${q}${tag} = ${L.bCol4(o, k, `min(${addU('col0 / 4u', q)}, ${g.cols / 4 - 1}u)`)};`);
      for (const i of rowIdx) for (let q = 0; q < groups; q++) w.body(`  accv${o}[${i * groups + q}] = fma(vec4<f32>(${a(i)}), b${o}_${q}${tag}, accv${o}[${i * groups + q}]);`);
    };
    if (plan.aAlong === 'k') {
      // 4 k per step: one vec4 of A per row, then 4 rows of B, each used by all TM rows.
      w.body(`for (var k4 = ${divU(begin, 4)}; k4 < ${divU(end, 4)}; k4++) {`);
      for (const i of rowIdx) w.body(`  let a${i} = ${L.aK4(i, 'k4')};`);
      for (let kk = 0; kk < 4; kk++) for (let o = 0; o < ops; o++) fmaRow(o, addU('k4 * 4u', kk), (i) => `a${i}[${kk}]`, `_${kk}`);
    } else {
      w.body(`for (var k = ${begin}; k < ${end}; k++) {`);
      if (plan.aAlong === 'row') {
        for (let q = 0; q < TM / 4; q++) w.body(`  let a4_${q} = ${L.aRow4('k', addU('row0 / 4u', q))};`);
        for (const i of rowIdx) w.body(`  let a${i} = a4_${Math.floor(i / 4)}[${i % 4}];`);
      } else {
        for (const i of rowIdx) w.body(`  let a${i} = ${L.a(i, 'k')};`);
      }
      for (let o = 0; o < ops; o++) fmaRow(o, 'k', (i) => `a${i}`, '');
    }
    w.body('}');
    if (plan.store4) writeStores4(w, g, outputs, groups, (o, i, q) => `accv${o}[${i * groups + q}]`);
    else writeEpilogue(w, g, outputs, (o, i, j) => `accv${o}[${i * groups + Math.floor(j / 4)}][${j % 4}]`, (j) => `${j}u`);
    return;
  }
  for (let o = 0; o < ops; o++) w.body(`var acc${o}: array<f32, ${TM * TN}>;`);
  if (plan.mode === 'depth') {
    w.body(`for (var k4 = ${divU(begin, 4)}; k4 < ${divU(end, 4)}; k4++) {`);
    for (const i of rowIdx) w.body(`  let a${i} = ${L.aK4(i, 'k4')};`);
    for (let o = 0; o < ops; o++) {
      for (const j of colIdx) w.body(`  let b${o}_${j} = ${L.bK4(o, 'k4', `c${j}`)};`);
      for (const i of rowIdx) {
        for (const j of colIdx) {
          // One fma per k, in order (not dot()): every load layout sums bit-identically.
          const acc = `acc${o}[${i * TN + j}]`;
          const [a, b] = [`a${i}`, `b${o}_${j}`];
          w.body(`  ${acc} = fma(${a}.w, ${b}.w, fma(${a}.z, ${b}.z, fma(${a}.y, ${b}.y, fma(${a}.x, ${b}.x, ${acc}))));`);
        }
      }
    }
  } else {
    w.body(`for (var k = ${begin}; k < ${end}; k++) {`);
    for (const i of rowIdx) w.body(`  let a${i} = ${L.a(i, 'k')};`);
    for (let o = 0; o < ops; o++) {
      for (const j of colIdx) w.body(`  let b${o}_${j} = ${L.b(o, 'k', `c${j}`)};`);
      for (const i of rowIdx) {
        for (const j of colIdx) w.body(`  acc${o}[${i * TN + j}] = fma(a${i}, b${o}_${j}, acc${o}[${i * TN + j}]);`);
      }
    }
  }
  w.body('}');
  if (plan.store4) writeStores4(w, g, outputs, TN / 4, (o, i, q) => `vec4<f32>(${[0, 1, 2, 3].map((x) => `acc${o}[${i * TN + 4 * q + x}]`).join(', ')})`);
  else writeEpilogue(w, g, outputs, (o, i, j) => `acc${o}[${i * TN + j}]`, (j) => `${j}u`);
}
