/**
 * A register-blocked GEMM body: each thread computes a TM x TN tile of
 * C = A·B without workgroup memory (the fastest kind on lavapipe; see
 * docs/PERFORMANCE.md). Operands are given as WGSL load expressions, so one
 * generator serves plain matmuls, transposed weight gradients and grouped
 * expert GEMMs that gather their rows by index (no permuted copies).
 *
 * Several B operands may share one A (up and gate of a gated FFN): each gets
 * its own accumulators, and the epilogue sees all of them.
 */
import type { KernelWriter } from './kernel_writer.ts';

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
  /** Tile of outputs per thread. */
  readonly tile?: readonly [number, number];
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

/** Whether vec4Rows loads apply (callers bind A as vec4f then). */
export function rowVectors(tile: readonly [number, number] | undefined, rows: number): boolean {
  return ((tile ?? [4, 4])[0] % 4 === 0) && rows % 4 === 0;
}

/** Whether vec4Cols loads apply for this tile and column count (callers bind B as vec4f then). */
export function columnVectors(tile: readonly [number, number] | undefined, cols: number): boolean {
  return ((tile ?? [4, 4])[1] % 4 === 0) && cols % 4 === 0;
}

/** Threads a GEMM dispatch needs (one per tile). */
export function gemmThreads(g: GemmSpec): number {
  const [tm, tn] = g.tile ?? [4, 4];
  if (g.packedRows) return (Math.ceil(g.packedRows.maxRows / tm) + g.packedRows.experts) * Math.ceil(g.cols / tn);
  return (g.groups ?? 1) * Math.ceil(g.rows / tm) * Math.ceil(g.cols / tn);
}

/** Writes the GEMM body into `w` (which must then be finished with finish1d(gemmThreads(g))). */
export function writeGemm(w: KernelWriter, g: GemmSpec): void {
  const [TM, TN] = g.tile ?? [4, 4];
  const tilesM = Math.ceil(g.rows / TM);
  const tilesN = Math.ceil(g.cols / TN);
  const ops = g.b.length;
  const rowIdx = [...Array(TM).keys()];
  const colIdx = [...Array(TN).keys()];
  if (g.packedRows) {
    const p = g.packedRows;
    w.body(
      `let block = i / ${tilesN}u;`,
      `let col0 = (i % ${tilesN}u) * ${TN}u;`,
      '// Find the expert whose packed blocks cover this one.',
      `var grp = ${p.experts}u;`,
      'var first = 0u;',
      `for (var e = 0u; e < ${p.experts}u; e++) {`,
      `  let blocks = (${p.offset('e + 1u')} - ${p.offset('e')} + ${TM - 1}u) / ${TM}u;`,
      '  if (block < first + blocks) { grp = e; break; }',
      '  first += blocks;',
      '}',
      `if (grp == ${p.experts}u) { return; }`,
      `let row_begin = ${p.offset('grp')};`,
      `let row_end = ${p.offset('grp + 1u')};`,
      `let row0 = row_begin + (block - first) * ${TM}u;`,
    );
  } else {
    w.body(
      `let grp = i / ${tilesM * tilesN}u;`,
      `let tile = i % ${tilesM * tilesN}u;`,
      `let row_begin = ${g.rowBegin ?? '0u'};`,
      `let row_end = ${g.rowEnd ?? `${g.rows}u`};`,
      `let row0 = row_begin + (tile / ${tilesN}u) * ${TM}u;`,
      `let col0 = (tile % ${tilesN}u) * ${TN}u;`,
      '// Tiles past the group\'s rows have nothing to do.',
      'if (row0 >= row_end) { return; }',
    );
  }
  for (const i of rowIdx) {
    w.body(`let ok${i} = row0 + ${i}u < row_end;`, `let r${i} = min(row0 + ${i}u, row_end - 1u);`);
    if (g.rowSetup) w.body(...g.rowSetup(i));
  }
  for (const j of colIdx) w.body(`let c${j} = min(col0 + ${j}u, ${g.cols - 1}u);`);
  const colVec = !!g.vec4Cols && !g.vec4 && columnVectors(g.tile, g.cols);
  if (colVec) {
    // Accumulators as vec4 across columns; each k does TM scalar × (TN/4) vec4 FMAs.
    const groups = TN / 4;
    for (let o = 0; o < ops; o++) w.body(`var accv${o}: array<vec4<f32>, ${TM * groups}>;`);
    const fmaRow = (o: number, k: string, a: (i: number) => string, tag: string) => {
      for (let q = 0; q < groups; q++) w.body(`  let b${o}_${q}${tag} = ${g.vec4Cols![o]!(k, `min(col0 / 4u + ${q}u, ${g.cols / 4 - 1}u)`)};`);
      for (const i of rowIdx) for (let q = 0; q < groups; q++) w.body(`  accv${o}[${i * groups + q}] = fma(vec4<f32>(${a(i)}), b${o}_${q}${tag}, accv${o}[${i * groups + q}]);`);
    };
    if (g.vec4ColsA) {
      // 4 k per step: one vec4 of A per row, then 4 rows of B, each used by all TM rows.
      w.body(`for (var k4 = (${g.depthBegin ?? '0u'}) / 4u; k4 < (${g.depthEnd}) / 4u; k4++) {`);
      for (const i of rowIdx) w.body(`  let a${i} = ${g.vec4ColsA(i, 'k4')};`);
      for (let kk = 0; kk < 4; kk++) for (let o = 0; o < ops; o++) fmaRow(o, `(k4 * 4u + ${kk}u)`, (i) => `a${i}[${kk}]`, `_${kk}`);
    } else {
      w.body(`for (var k = ${g.depthBegin ?? '0u'}; k < ${g.depthEnd}; k++) {`);
      if (g.vec4Rows && rowVectors(g.tile, g.rows) && !g.rowBegin) {
        for (let q = 0; q < TM / 4; q++) w.body(`  let a4_${q} = ${g.vec4Rows('k', `row0 / 4u + ${q}u`)};`);
        for (const i of rowIdx) w.body(`  let a${i} = a4_${Math.floor(i / 4)}[${i % 4}];`);
      } else {
        for (const i of rowIdx) w.body(`  let a${i} = ${g.a(i, 'k')};`);
      }
      for (let o = 0; o < ops; o++) fmaRow(o, 'k', (i) => `a${i}`, '');
    }
    w.body('}');
    for (const i of rowIdx) {
      for (const j of colIdx) {
        const accs = [...Array(ops).keys()].map((o) => `accv${o}[${i * groups + Math.floor(j / 4)}][${j % 4}]`);
        w.body(`if (ok${i} && col0 + ${j}u < ${g.cols}u) {`, ...g.store(i, `c${j}`, accs).map((s) => `  ${s}`), '}');
      }
    }
    return;
  }
  for (let o = 0; o < ops; o++) w.body(`var acc${o}: array<f32, ${TM * TN}>;`);
  if (g.vec4) {
    const v = g.vec4;
    w.body(`for (var k4 = (${g.depthBegin ?? '0u'}) / 4u; k4 < (${g.depthEnd}) / 4u; k4++) {`);
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
  for (const i of rowIdx) {
    for (const j of colIdx) {
      const accs = [...Array(ops).keys()].map((o) => `acc${o}[${i * TN + j}]`);
      w.body(`if (ok${i} && col0 + ${j}u < ${g.cols}u) {`, ...g.store(i, `c${j}`, accs).map((s) => `  ${s}`), '}');
    }
  }
}
