/**
 * GEMM operands as strided views of storage buffers. A view says where
 * element (i0, i1) of a matrix lies (A is [row, k], B is [k, col], an
 * output [row, col]); the GEMM derives every load from it, scalar or 16-byte
 * along either index, so an op describes its operands once instead of
 * writing a load expression per vector layout.
 */
import { group, mulU } from './wgsl_fold.ts';

/**
 * The element stride of one matrix index: a number, or the index split into
 * blocks (i / block and i % block, each with its own stride), as when K
 * shared experts' down weights [K, d, H] are read as one [d, K·H] matrix.
 */
export type Stride = number | { readonly block: number; readonly outer: number; readonly inner: number };

export interface MatrixView {
  /** The WGSL binding name, and the buffer it binds. */
  readonly binding: string;
  readonly buffer: string;
  /** Element strides of the two indices. */
  readonly strides: readonly [Stride, Stride];
  /** Elements between consecutive groups' matrices (expert weights), times the GEMM's `grp`. */
  readonly groupStride?: number;
  /**
   * The first index is read through an i32 routing table (slot → token; a
   * negative entry reads row 0, whose result the GEMM never keeps).
   */
  readonly gather?: { readonly binding: string; readonly buffer: string };
  /**
   * A WGSL factor per element, given the two logical indices (router jitter
   * noise): loads of the view are multiplied by it, stores of an output
   * scaled by it. Such a view is read and written one element at a time.
   */
  readonly factor?: (i0: string, i1: string) => string;
}

/**
 * A GEMM operand: one view, or two concatenated along the reduction (a gated
 * FFN's input gradient reduces over [d_pre_up | d_pre_gate]), the second
 * starting at reduction index `at`.
 */
export type Operand = MatrixView | { readonly concat: readonly [MatrixView, MatrixView]; readonly at: number };

/** The views an operand reads. */
export function viewsOf(o: Operand): readonly MatrixView[] {
  return 'concat' in o ? o.concat : [o];
}

/** The index of this many elements along one stride. */
function term(i: string, s: Stride): { expr: string; weight: number } {
  if (typeof s === 'number') return { expr: s === 1 ? i : mulU(group(i), s), weight: s };
  const g = group(i);
  return { expr: `(${g} / ${s.block}u) * ${s.outer}u + ${mulU(`(${g} % ${s.block}u)`, s.inner)}`, weight: s.outer };
}

/** Terms joined outermost (largest stride) first, as a person writes `r * K + k`. */
function joinTerms(terms: { expr: string; weight: number }[]): string {
  return terms
    .sort((x, y) => y.weight - x.weight)
    .map((t) => t.expr)
    .join(' + ');
}

/** The element index of (i0, i1) in `v` (i0 already resolved through any gather). */
export function elementIndex(v: MatrixView, i0: string, i1: string): string {
  const terms = [term(i0, v.strides[0]), term(i1, v.strides[1])];
  if (v.groupStride) terms.push({ expr: mulU('grp', v.groupStride), weight: v.groupStride });
  return joinTerms(terms);
}

/** A stride divided by 4 (for vec4 indices), when every part of it is a multiple of 4. */
function quarter(s: Stride): Stride | undefined {
  if (typeof s === 'number') return s % 4 === 0 ? s / 4 : undefined;
  return s.outer % 4 === 0 && s.inner % 4 === 0 ? { block: s.block, outer: s.outer / 4, inner: s.inner / 4 } : undefined;
}

/**
 * Whether `v` can be read or written 16 bytes at a time along index `along`
 * (0 or 1) whose extent is `extent`: that index is contiguous (innermost
 * stride 1) in blocks of a multiple of 4, every other stride is a multiple
 * of 4, nothing scales single elements, and the index is not gathered.
 */
export function vectorizable(v: MatrixView, along: 0 | 1, extent: number): boolean {
  if (v.factor || (along === 0 && v.gather)) return false;
  const s = v.strides[along];
  const contiguous = typeof s === 'number' ? s === 1 && extent % 4 === 0 : s.inner === 1 && s.block % 4 === 0 && s.outer % 4 === 0;
  return contiguous && quarter(v.strides[1 - along]!) !== undefined && (v.groupStride ?? 0) % 4 === 0;
}

/**
 * Whether every view of the operand is vectorizable along `along`. Along
 * the reduction (`reduction`: which index it is), a concatenation's parts
 * each span `at` and the split must fall on a multiple of 4.
 */
export function operandVectorizable(o: Operand, along: 0 | 1, extent: number, reduction: 0 | 1): boolean {
  if (!('concat' in o)) return vectorizable(o, along, extent);
  if (along !== reduction) return o.concat.every((v) => vectorizable(v, along, extent));
  return o.at % 4 === 0 && o.concat.every((v) => vectorizable(v, along, o.at));
}

/**
 * The vec4 index (the buffer bound as array<vec4<f32>>) of elements
 * (i0, i1) where the index `along` is given in groups of four (`i0` = row / 4
 * when along is 0). Only for views that are vectorizable along it.
 */
export function vectorIndex(v: MatrixView, along: 0 | 1, i0: string, i1: string): string {
  const s = v.strides[along];
  const other = quarter(v.strides[1 - along]!)!;
  const vec = along === 0 ? i0 : i1;
  const idx = along === 0 ? i1 : i0;
  const terms = [term(idx, other)];
  if (typeof s === 'number') {
    terms.push({ expr: vec, weight: 1 });
  } else {
    const g = group(vec);
    terms.push({ expr: `(${g} / ${s.block / 4}u) * ${s.outer / 4}u + ${g} % ${s.block / 4}u`, weight: s.outer / 4 });
  }
  if (v.groupStride) terms.push({ expr: mulU('grp', v.groupStride / 4), weight: v.groupStride / 4 });
  return joinTerms(terms);
}

/** Whether the view's index `along` has stride 1 (its neighbours lie next to each other in memory). */
export function contiguousAlong(v: MatrixView, along: 0 | 1): boolean {
  const s = v.strides[along];
  return typeof s === 'number' ? s === 1 : s.inner === 1;
}

/** The same elements read with the two indices swapped (a weight [out, in] as the [in, out] B operand of y = x·Wᵀ). */
export function transpose(v: MatrixView): MatrixView {
  if (v.gather || v.factor) throw new Error(`internal: transposing ${v.binding}, whose first index is gathered or scaled`);
  return { ...v, strides: [v.strides[1], v.strides[0]] };
}

/** The row a gathered view reads for table entry `index`. */
export function gatheredRow(v: MatrixView, index: string): string {
  return v.gather ? `u32(max(${v.gather.binding}[${index}], 0))` : index;
}

/** A row-major [rows, cols] view of a whole buffer: element (r, c) at r·cols + c. */
export function rowMajor(binding: string, buffer: string, cols: number, extra: Partial<Pick<MatrixView, 'groupStride' | 'gather' | 'factor'>> = {}): MatrixView {
  return { binding, buffer, strides: [cols, 1], ...extra };
}

/** The transpose of a row-major [rows, cols] buffer, read as [cols, rows]: element (i, j) at j·cols + i. */
export function columnMajor(binding: string, buffer: string, cols: number, extra: Partial<Pick<MatrixView, 'groupStride' | 'gather' | 'factor'>> = {}): MatrixView {
  return { binding, buffer, strides: [1, cols], ...extra };
}
