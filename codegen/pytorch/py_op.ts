/**
 * The PyTorch backend's view of one IR op: what its emitter gets to write
 * the op as readable Python. The third sibling of the Float64 reference and
 * the WGSL kernels over the same registry: a kind without an emitter is a
 * type error. Emitters write the forward computation only; PyTorch's
 * autograd derives the backward, except where moec defines a gradient of
 * its own (stop-gradients of routing decisions, score functions' gradients
 * at their edges), which the emitters spell out.
 *
 * Shapes that depend on the number of tokens are not baked in: the code
 * reads them at run time (`N` tokens, `B` sequences of `S`), so one module
 * serves training, evaluation and sampling.
 */
import type { Op, OpKind } from '../../compiler/ir.ts';
import type { MoeFfnSpec } from '../../compiler/spec.ts';

export interface PyOpContext<O extends Op = Op> {
  readonly op: O;
  /** The Python expression of a tensor: a parameter or buffer (`self.router.weight`), or a local variable. */
  v(tensor: string): string;
  /** A dimension of a tensor that does not depend on the token count (experts, width, hidden, k). */
  dim(tensor: string, axis: number): number;
  /** The MoE layer the op belongs to, for the options whose numbers depend on the token count (capacity factors). */
  readonly layer: MoeFfnSpec | undefined;
}

/** Python lines computing the op's outputs (assigned to `ctx.v(output)`). */
export type PyEmitter<O extends Op = Op> = (ctx: PyOpContext<O>) => string[];

/** The emitters of a group of kinds, each typed by its own kind's op. */
export type PyTable<K extends OpKind> = { readonly [P in K]: PyEmitter<Extract<Op, { kind: P }>> };

/** A Python float literal. */
export function pyNum(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal: non-finite constant ${x}`);
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}
