/**
 * Every IR op kind, from its one definition file. The types of ops — which
 * operands each kind has, which are optional, each attribute's type — are
 * derived from these definitions, so lowering, the Float64 reference and the
 * WGSL generator all see the same typed boundary, and a backend missing a
 * kind (or an enum value of an attribute) fails to type-check.
 */
import type { Origin } from '../spec.ts';
import { activation } from './activation.ts';
import { add } from './add.ts';
import { assign } from './assign.ts';
import { attention } from './attention.ts';
import { balance_loss } from './balance_loss.ts';
import { bias_update } from './bias_update.ts';
import { combine } from './combine.ts';
import { cross_entropy } from './cross_entropy.ts';
import { decode_attention } from './decode_attention.ts';
import { embed } from './embed.ts';
import { expert_ffn } from './expert_ffn.ts';
import { ffn } from './ffn.ts';
import { global_balance_loss } from './global_balance_loss.ts';
import { ia3_scale } from './ia3_scale.ts';
import { l1_loss } from './l1_loss.ts';
import { linear } from './linear.ts';
import { lora_linear } from './lora_linear.ts';
import { mix } from './mix.ts';
import { mix_weights } from './mix_weights.ts';
import { norm } from './norm.ts';
import type { Attrs, AttrsIn, GraphView, OpDef, Operands, OpSignature, ShapeOf } from './op_def.ts';
import { position_add } from './position_add.ts';
import { rotary } from './rotary.ts';
import { router } from './router.ts';
import { select_all } from './select_all.ts';
import { select_top_c } from './select_top_c.ts';
import { select_top_k } from './select_top_k.ts';
import { scale_rows } from './scale_rows.ts';
import { sequence_balance_loss } from './sequence_balance_loss.ts';
import { sinkhorn } from './sinkhorn.ts';
import { unmix } from './unmix.ts';
import { z_loss } from './z_loss.ts';

/** Kind → definition, in the order docs/IR.md lists them. */
export const OP_DEFS = {
  embed,
  position_add,
  norm,
  linear,
  rotary,
  attention,
  decode_attention,
  add,
  ffn,
  cross_entropy,
  router,
  sinkhorn,
  select_top_k,
  assign,
  select_top_c,
  select_all,
  expert_ffn,
  combine,
  scale_rows,
  mix_weights,
  mix,
  unmix,
  activation,
  ia3_scale,
  lora_linear,
  balance_loss,
  z_loss,
  sequence_balance_loss,
  global_balance_loss,
  l1_loss,
  bias_update,
} as const;

export type OpKind = keyof typeof OP_DEFS;
/** The signature of one kind. */
export type SignatureOf<K extends OpKind> = (typeof OP_DEFS)[K]['signature'];

/** One op of kind K: named operands (role → tensor name) and typed attributes. */
export interface OpOf<K extends OpKind> {
  /** Unique name, e.g. `blocks.1.moe.router`. */
  readonly name: string;
  readonly kind: K;
  readonly inputs: Operands<SignatureOf<K>['inputs']>;
  readonly outputs: Operands<SignatureOf<K>['outputs']>;
  readonly attrs: Attrs<SignatureOf<K>['attrs']>;
  /** The spec line that produced it. */
  readonly origin: Origin;
  /** How derived attributes were computed from the spec (`capacity: 'ceil(1.25 · 1 · 1024 / 8)'`), for kernel headers. */
  readonly derived?: { readonly [A in keyof Attrs<SignatureOf<K>['attrs']>]?: string };
}

/** The attributes of a kind as lowering writes them (attributes with a default may be left out). */
export type AttrsInOf<K extends OpKind> = AttrsIn<SignatureOf<K>['attrs']>;

/** Any op: a union discriminated by `kind`. */
export type Op = { [K in OpKind]: OpOf<K> }[OpKind];

/** Every kind, in registry order. */
export const OP_KINDS = Object.keys(OP_DEFS) as OpKind[];

/** The definition of an op's kind, typed loosely for code that treats all kinds alike. */
export function defOf(kind: OpKind): OpDef<OpKind, OpSignature> {
  return OP_DEFS[kind] as unknown as OpDef<OpKind, OpSignature>;
}

/** `attrs` with every left-out attribute of the kind set to its default. */
export function withDefaults(kind: OpKind, attrs: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...attrs };
  for (const [name, spec] of Object.entries(defOf(kind).signature.attrs)) if (out[name] === undefined && spec.default !== undefined) out[name] = spec.default;
  return out;
}

/** Whether an attribute holds its kind's default (IR dumps leave such attributes out). */
export function isDefaultAttr(kind: OpKind, name: string, value: unknown): boolean {
  const spec = defOf(kind).signature.attrs[name];
  return spec?.default !== undefined && spec.default === value;
}

/** Forward FLOPs of one op. */
export function opFlops(op: Op, graph: GraphView): number {
  const shape: ShapeOf = (t) => graph.tensors.get(t)?.shape ?? [];
  return defOf(op.kind).flops(op as never, shape, graph);
}
