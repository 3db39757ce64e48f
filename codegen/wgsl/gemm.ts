/**
 * GEMM kernels: each thread computes a TM x TN tile of C = A·B, either
 * reading its operands itself (register-blocked, no workgroup memory: the
 * fastest kind on lavapipe; see docs/PERFORMANCE.md) or, for a tile with a
 * k-depth, from k-slices its workgroup staged in workgroup memory (what
 * real GPUs reward). Operands are given as WGSL load expressions, so one
 * generator serves plain matmuls, transposed weight gradients and grouped
 * expert GEMMs that gather their rows by index (no permuted copies).
 * Whatever the tile, every output sums over k in order with one fma per k,
 * so all tiles give bit-identical results.
 *
 * Several B operands may share one A (up and gate of a gated FFN): each gets
 * its own accumulators, and the epilogue sees all of them.
 */
import { DEFAULT_GEMM_TILE, stagedDepth, type GemmTile, type Kernel } from './kernel.ts';
import { WG, type KernelWriter } from './kernel_writer.ts';
import { addU, divU, plusU } from './wgsl_fold.ts';

export interface GemmSpec {
  /** Bound on the rows of one group (the dispatch covers this many). */
  readonly rows: number;
  readonly cols: number;
  /** Independent problems (experts); the body sees `grp: u32`. */
  readonly groups?: number;
  /** First row and end row of the group (WGSL u32 expressions; may use `grp`). Default 0 and `rows`. */
  readonly rowBegin?: string;
  readonly rowEnd?: string;
  /** The reduction range (WGSL u32 expressions; may use `grp`). */
  readonly depthBegin?: string;
  readonly depthEnd: string;
  /**
   * Statements run once per tile row before the loop; they see `r{i}` (the
   * row, clamped into range) and may define variables the loads use.
   */
  readonly rowSetup?: (i: number) => string[];
  /** Load of A for tile row i at reduction index `k`. */
  readonly a: (i: number, k: string) => string;
  /** Loads of each B operand at reduction index `k` and column expression `col`. */
  readonly b: readonly ((k: string, col: string) => string)[];
  /** Epilogue for tile row i, column `col`, given each operand's accumulator; runs only for valid rows and columns. */
  readonly store: (i: number, col: string, acc: readonly string[]) => string[];
  /**
   * The epilogue for 4 consecutive columns at once (`col4` = first column
   * / 4, accumulators as vec4<f32>), so a GEMM whose reduction is short
   * (weight gradients over a few rows) is not bound by scalar stores. Used
   * when columnVectors(tile, cols) holds.
   */
  readonly store4?: (i: number, col4: string, acc: readonly string[]) => string[];
  /** Tile of outputs per thread (and the staged k-depth of a workgroup-tiled GEMM). */
  readonly tile?: GemmTile;
  /**
   * Which index of each operand is contiguous in memory (default: k for
   * both, as in y = x·Wᵀ), so a workgroup-tiled GEMM's neighbouring threads
   * stage neighbouring elements.
   */
  readonly contiguous?: { readonly a?: 'k' | 'row'; readonly b?: 'k' | 'col' };
  /**
   * Groups whose row ranges are known only on the GPU (experts of a
   * token-choice layer): instead of a grid of groups × their largest
   * possible row count, tiles are packed — block b belongs to the expert
   * whose blocks cover b — so no workgroup is spent on rows an expert did not
   * get. `offset(e)` is expert e's first row (offset(experts) = rows used).
   */
  readonly packedRows?: { readonly experts: number; readonly offset: (e: string) => string; readonly maxRows: number };
  /**
   * 16-byte loads when A and B are both contiguous along the reduction
   * (y = x·Wᵀ layouts): loads of 4 consecutive k as vec4, accumulated by
   * one fma per k in order. `k4` counts groups of four; the depth range must be multiples of 4.
   */
  readonly vec4?: {
    readonly a: (i: number, k4: string) => string;
    readonly b: readonly ((k4: string, col: string) => string)[];
  };
  /**
   * 16-byte loads of B across 4 consecutive columns (B contiguous along its
   * columns, as in gradient GEMMs): `col4` is a column group (cols/4 of them).
   * Used when the tile is 4·m columns wide and cols % 4 == 0.
   */
  readonly vec4Cols?: readonly ((k: string, col4: string) => string)[];
  /**
   * With vec4Cols: 16-byte loads of A across 4 consecutive rows (A
   * contiguous along its rows, as in weight gradients), `row4` = row / 4.
   * Used when the tile is 4·m rows tall and the group's rows are a multiple of 4.
   */
  readonly vec4Rows?: (k: string, row4: string) => string;
  /**
   * With vec4Cols: 16-byte loads of A along the reduction (A contiguous in
   * k, as the gradient GEMMs' row operand is): the loop steps 4 k at a time
   * and reuses each A load for 4 rows of B. `k4` counts groups of four; the
   * depth range must be multiples of 4. (Measured on lavapipe: fewer, wider
   * loads ran the input-gradient GEMMs up to 2x faster at the same tile.)
   */
  readonly vec4ColsA?: (i: number, k4: string) => string;
}

/** Whether vec4 loads along the reduction (the `vec4` field) apply: register tiles and a depth of 4·m. */
export function depthVectors(tile: GemmTile | undefined, depth: number): boolean {
  return !stagedDepth(tile ?? DEFAULT_GEMM_TILE) && depth % 4 === 0;
}

/** Whether vec4Rows loads apply (callers bind A as vec4f then). */
export function rowVectors(tile: GemmTile | undefined, rows: number): boolean {
  const t = tile ?? DEFAULT_GEMM_TILE;
  return !stagedDepth(t) && t[0] % 4 === 0 && rows % 4 === 0;
}

/**
 * Whether 4-column vectors apply for this tile and column count: vec4Cols
 * loads (callers bind B as vec4f then) and store4 epilogues (outputs bound
 * as vec4f).
 */
export function columnVectors(tile: GemmTile | undefined, cols: number): boolean {
  const t = tile ?? DEFAULT_GEMM_TILE;
  return !stagedDepth(t) && t[1] % 4 === 0 && cols % 4 === 0;
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

/** Writes the GEMM into `w` and finishes the kernel with the grid it needs. */
export function gemmKernel(w: KernelWriter, g: GemmSpec): Kernel {
  if (stagedDepth(g.tile ?? DEFAULT_GEMM_TILE)) {
    writeStagedGemm(w, g);
    return w.finishWorkgroups(gemmBlocks(g));
  }
  writeGemm(w, g);
  const threads = gemmBlocks(g);
  // A GEMM of few tiles (a router's weight gradient: 8 experts x width) gets
  // smaller workgroups, so it still spreads over several of them (and CPU
  // cores): 16 threads as 2 x 8 ran in 1.7 ms against 2.7 as one workgroup.
  let size = WG;
  while (size > 8 && threads < size * 8) size /= 2;
  return w.finish1d(threads, size);
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

/** The epilogue: each valid (row, column) of the thread's tile; `col(j)` is tile column j's offset from col0. */
function writeEpilogue(w: KernelWriter, g: GemmSpec, acc: (o: number, i: number, j: number) => string, col: (j: number) => string): void {
  const [TM, TN] = g.tile ?? DEFAULT_GEMM_TILE;
  for (let i = 0; i < TM; i++) {
    for (let j = 0; j < TN; j++) {
      const accs = g.b.map((_, o) => acc(o, i, j));
      w.body(`if (ok${i} && ${plusU('col0', col(j))} < ${g.cols}u) {`, ...g.store(i, `c${j}`, accs).map((s) => `  ${s}`), '}');
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
function writeStagedGemm(w: KernelWriter, g: GemmSpec): void {
  const [TM, TN, BK] = g.tile as readonly [number, number, number];
  const [BM, BN] = blockShape(g.tile!);
  const ops = g.b.length;
  w.declare(`var<workgroup> tile_a: array<f32, ${BM * BK}>;  // [k][row]`, ...g.b.map((_, o) => `var<workgroup> tile_b${o}: array<f32, ${BN * BK}>;  // [k][column]`));
  writeBlockOrigin(w, g, BM, BN, 'wg');
  w.body(`let tr = lid / ${SIDE}u;`, `let tc = lid % ${SIDE}u;`);
  for (let i = 0; i < TM; i++) {
    w.body(`let ok${i} = ${addU('row0 + tr', SIDE * i)} < row_end;`, `let r${i} = min(${addU('row0 + tr', SIDE * i)}, row_end - 1u);`);
    if (g.rowSetup) w.body(...g.rowSetup(i));
  }
  for (let j = 0; j < TN; j++) w.body(`let c${j} = min(${addU('col0 + tc', SIDE * j)}, ${g.cols - 1}u);`);
  // What each thread stages: element e = lid + 64q of the slice, walked along the operand's contiguous index.
  const along = (q: number, width: number, kFast: boolean) => {
    const e = `(lid + ${64 * q}u)`;
    return kFast ? { at: `${e} / ${BK}u`, k: `${e} % ${BK}u` } : { at: `${e} % ${width}u`, k: `${e} / ${width}u` };
  };
  const perA = (BM * BK) / 64;
  const perB = (BN * BK) / 64;
  w.body('// The rows and columns this thread stages (A rows get the same setup as tile rows, as r/src of index ≥ TM).');
  for (let q = 0; q < perA; q++) {
    const { at, k } = along(q, BM, (g.contiguous?.a ?? 'k') === 'k');
    const L = TM + q;
    w.body(`let sa${q} = ${at};`, `let ka${q} = ${k};`, `let r${L} = min(row0 + sa${q}, row_end - 1u);`);
    if (g.rowSetup) w.body(...g.rowSetup(L));
  }
  for (let q = 0; q < perB; q++) {
    const { at, k } = along(q, BN, (g.contiguous?.b ?? 'k') === 'k');
    w.body(`let sb${q} = ${at};`, `let kb${q} = ${k};`, `let cb${q} = min(col0 + sb${q}, ${g.cols - 1}u);`);
  }
  for (let o = 0; o < ops; o++) w.body(`var acc${o}: array<f32, ${TM * TN}>;`);
  w.body(
    `let k_begin = ${g.depthBegin ?? '0u'};`,
    `let k_end = ${g.depthEnd};`,
    `for (var k0 = k_begin; k0 < k_end; k0 += ${BK}u) {`,
    `  let kn = min(${BK}u, k_end - k0);`,
  );
  for (let q = 0; q < perA; q++) w.body(`  tile_a[ka${q} * ${BM}u + sa${q}] = select(0.0, ${g.a(TM + q, `min(k0 + ka${q}, k_end - 1u)`)}, ka${q} < kn);`);
  for (let o = 0; o < ops; o++) {
    for (let q = 0; q < perB; q++) w.body(`  tile_b${o}[kb${q} * ${BN}u + sb${q}] = select(0.0, ${g.b[o]!(`min(k0 + kb${q}, k_end - 1u)`, `cb${q}`)}, kb${q} < kn);`);
  }
  w.body('  workgroupBarrier();', '  for (var kk = 0u; kk < kn; kk++) {');
  for (let i = 0; i < TM; i++) w.body(`    let a${i} = tile_a[${addU(`kk * ${BM}u + tr`, SIDE * i)}];`);
  for (let o = 0; o < ops; o++) {
    for (let j = 0; j < TN; j++) w.body(`    let b${o}_${j} = tile_b${o}[${addU(`kk * ${BN}u + tc`, SIDE * j)}];`);
    for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) w.body(`    acc${o}[${i * TN + j}] = fma(a${i}, b${o}_${j}, acc${o}[${i * TN + j}]);`);
  }
  w.body('  }', '  workgroupBarrier();', '}');
  writeEpilogue(w, g, (o, i, j) => `acc${o}[${i * TN + j}]`, (j) => addU('tc', SIDE * j));
}

/** Writes the register-blocked GEMM body into `w` (one thread per tile; finished by gemmKernel). */
function writeGemm(w: KernelWriter, g: GemmSpec): void {
  const [TM, TN] = g.tile ?? DEFAULT_GEMM_TILE;
  const ops = g.b.length;
  const rowIdx = [...Array(TM).keys()];
  const colIdx = [...Array(TN).keys()];
  writeBlockOrigin(w, g, TM, TN, 'i');
  for (const i of rowIdx) {
    w.body(`let ok${i} = ${addU('row0', i)} < row_end;`, `let r${i} = min(${addU('row0', i)}, row_end - 1u);`);
    if (g.rowSetup) w.body(...g.rowSetup(i));
  }
  for (const j of colIdx) w.body(`let c${j} = min(${addU('col0', j)}, ${g.cols - 1}u);`);
  const colVec = !!g.vec4Cols && !g.vec4 && columnVectors(g.tile, g.cols);
  if (colVec) {
    // Accumulators as vec4 across columns; each k does TM scalar × (TN/4) vec4 FMAs.
    const groups = TN / 4;
    for (let o = 0; o < ops; o++) w.body(`var accv${o}: array<vec4<f32>, ${TM * groups}>;`);
    const fmaRow = (o: number, k: string, a: (i: number) => string, tag: string) => {
      for (let q = 0; q < groups; q++) w.body(`  let b${o}_${q}${tag} = ${g.vec4Cols![o]!(k, `min(${addU('col0 / 4u', q)}, ${g.cols / 4 - 1}u)`)};`);
      for (const i of rowIdx) for (let q = 0; q < groups; q++) w.body(`  accv${o}[${i * groups + q}] = fma(vec4<f32>(${a(i)}), b${o}_${q}${tag}, accv${o}[${i * groups + q}]);`);
    };
    if (g.vec4ColsA) {
      // 4 k per step: one vec4 of A per row, then 4 rows of B, each used by all TM rows.
      w.body(`for (var k4 = ${divU(g.depthBegin ?? '0u', 4)}; k4 < ${divU(g.depthEnd, 4)}; k4++) {`);
      for (const i of rowIdx) w.body(`  let a${i} = ${g.vec4ColsA(i, 'k4')};`);
      for (let kk = 0; kk < 4; kk++) for (let o = 0; o < ops; o++) fmaRow(o, `(${addU('k4 * 4u', kk)})`, (i) => `a${i}[${kk}]`, `_${kk}`);
    } else {
      w.body(`for (var k = ${g.depthBegin ?? '0u'}; k < ${g.depthEnd}; k++) {`);
      if (g.vec4Rows && rowVectors(g.tile, g.rows) && !g.rowBegin) {
        for (let q = 0; q < TM / 4; q++) w.body(`  let a4_${q} = ${g.vec4Rows('k', addU('row0 / 4u', q))};`);
        for (const i of rowIdx) w.body(`  let a${i} = a4_${Math.floor(i / 4)}[${i % 4}];`);
      } else {
        for (const i of rowIdx) w.body(`  let a${i} = ${g.a(i, 'k')};`);
      }
      for (let o = 0; o < ops; o++) fmaRow(o, 'k', (i) => `a${i}`, '');
    }
    w.body('}');
    if (g.store4 && columnVectors(g.tile, g.cols)) {
      writeStores4(w, g, groups, (o, i, q) => `accv${o}[${i * groups + q}]`);
    } else {
      writeEpilogue(w, g, (o, i, j) => `accv${o}[${i * groups + Math.floor(j / 4)}][${j % 4}]`, (j) => `${j}u`);
    }
    return;
  }
  for (let o = 0; o < ops; o++) w.body(`var acc${o}: array<f32, ${TM * TN}>;`);
  if (g.vec4) {
    const v = g.vec4;
    w.body(`for (var k4 = ${divU(g.depthBegin ?? '0u', 4)}; k4 < ${divU(g.depthEnd, 4)}; k4++) {`);
    for (const i of rowIdx) w.body(`  let a${i} = ${v.a(i, 'k4')};`);
    for (let o = 0; o < ops; o++) {
      for (const j of colIdx) w.body(`  let b${o}_${j} = ${v.b[o]!('k4', `c${j}`)};`);
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
    w.body(`for (var k = ${g.depthBegin ?? '0u'}; k < ${g.depthEnd}; k++) {`);
    for (const i of rowIdx) w.body(`  let a${i} = ${g.a(i, 'k')};`);
    for (let o = 0; o < ops; o++) {
      for (const j of colIdx) w.body(`  let b${o}_${j} = ${g.b[o]!('k', `c${j}`)};`);
      for (const i of rowIdx) {
        for (const j of colIdx) w.body(`  acc${o}[${i * TN + j}] = fma(a${i}, b${o}_${j}, acc${o}[${i * TN + j}]);`);
      }
    }
  }
  w.body('}');
  if (g.store4 && columnVectors(g.tile, g.cols)) {
    writeStores4(w, g, TN / 4, (o, i, q) => `vec4<f32>(${[0, 1, 2, 3].map((x) => `acc${o}[${i * TN + 4 * q + x}]`).join(', ')})`);
  } else {
    writeEpilogue(w, g, (o, i, j) => `acc${o}[${i * TN + j}]`, (j) => `${j}u`);
  }
}

/** store4 epilogues: cols % 4 == 0 and col0 is a multiple of 4, so a column group is valid whole or not at all. */
function writeStores4(w: KernelWriter, g: GemmSpec, groups: number, acc: (o: number, i: number, q: number) => string): void {
  const [TM] = g.tile ?? DEFAULT_GEMM_TILE;
  for (let i = 0; i < TM; i++) {
    for (let q = 0; q < groups; q++) {
      const accs = g.b.map((_, o) => acc(o, i, q));
      w.body(`if (ok${i} && ${addU('col0', 4 * q)} < ${g.cols}u) {`, ...g.store4!(i, q === 0 ? 'col0 / 4u' : `(col0 / 4u + ${q}u)`, accs).map((s) => `  ${s}`), '}');
    }
  }
}
