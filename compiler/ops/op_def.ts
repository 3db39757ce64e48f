/**
 * How an IR op kind is defined: one value per kind (compiler/ops/<kind>.ts)
 * holding its typed signature, shape inference, extra checks, FLOP count and
 * documentation. The signature is plain data *and* a type: the registry
 * derives each kind's operand and attribute types from it, so a backend
 * reads `op.attrs.score` as `'softmax' | 'sigmoid'` and `op.inputs.x` as a
 * tensor name that is certainly there.
 */
import type { DType, Tensor } from '../tensor.ts';

/** One named operand of an op: its dtype and rank, and whether it may be absent. */
export interface OperandSpec {
  readonly dtype: DType;
  readonly rank: number;
  readonly optional?: boolean;
  /** When it is present (for optional operands) or what it holds. */
  readonly doc?: string;
}

/**
 * One attribute of an op. Attribute values are plain data, so IR dumps and
 * cache keys stay stable. An attribute with a `default` may be left out when
 * an op is built (GraphBuilder fills it in) and is left out of IR dumps when
 * it has that value, so a new option of an op changes nothing for the
 * graphs that do not use it.
 */
export type AttrSpec =
  | { readonly type: 'int'; readonly min?: number; readonly doc: string; readonly default?: number }
  | { readonly type: 'number'; readonly doc: string; readonly default?: number }
  | { readonly type: 'bool'; readonly doc: string; readonly default?: boolean }
  | { readonly type: 'enum'; readonly values: readonly string[]; readonly doc: string; readonly default?: string };

export interface OpSignature {
  readonly inputs: Readonly<Record<string, OperandSpec>>;
  readonly outputs: Readonly<Record<string, OperandSpec>>;
  readonly attrs: Readonly<Record<string, AttrSpec>>;
}

/** The TypeScript type of one attribute's value. */
export type AttrValueOf<A extends AttrSpec> = A extends { readonly type: 'enum'; readonly values: readonly (infer V)[] } ? V : A extends { readonly type: 'bool' } ? boolean : number;

type Required<R> = { readonly [K in keyof R as R[K] extends { readonly optional: true } ? never : K]: string };
type Optional<R> = { readonly [K in keyof R as R[K] extends { readonly optional: true } ? K : never]?: string };
/** Role → tensor name: required roles are always there, optional ones may be absent. */
export type Operands<R> = Required<R> & Optional<R>;
/** Attribute name → typed value. */
export type Attrs<A extends Readonly<Record<string, AttrSpec>>> = { readonly [K in keyof A]: AttrValueOf<A[K]> };
type Defaulted<A> = { readonly [K in keyof A as A[K] extends { readonly default: unknown } ? K : never]?: A[K] extends AttrSpec ? AttrValueOf<A[K]> : never };
type Undefaulted<A> = { readonly [K in keyof A as A[K] extends { readonly default: unknown } ? never : K]: A[K] extends AttrSpec ? AttrValueOf<A[K]> : never };
/** Attributes as lowering writes them: those with a default may be left out. */
export type AttrsIn<A extends Readonly<Record<string, AttrSpec>>> = Undefaulted<A> & Defaulted<A>;

/** The parts of an op that its definition's functions read. */
export interface OpView<S extends OpSignature> {
  readonly name: string;
  readonly inputs: Operands<S['inputs']>;
  readonly outputs: Operands<S['outputs']>;
  readonly attrs: Attrs<S['attrs']>;
}

/** The graph as far as FLOP counting needs it (a structural subset of Graph, so this file needs no import of it). */
export interface GraphView {
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly ops: readonly { readonly outputs: Readonly<Record<string, string>> }[];
}

/** A tensor's shape by name (throws on an unknown name). */
export type ShapeOf = (tensor: string) => readonly number[];

/** The documentation of an op, rendered into docs/IR.md. */
export interface OpDoc {
  /** Which section of docs/IR.md it belongs to. */
  readonly section: 'model' | 'moe' | 'loss' | 'update';
  /** The forward math, in the notation of docs/ROUTING.md (markdown). */
  readonly math: string;
  /** The backward rule (markdown); absent for ops that are never differentiated. */
  readonly backward?: string;
}

export interface OpDef<K extends string, S extends OpSignature> {
  readonly kind: K;
  readonly signature: S;
  readonly doc: OpDoc;
  /**
   * The shapes the outputs must have, from the inputs' shapes and the
   * attributes. Outputs left out are checked by `verify` or not at all.
   */
  readonly infer: (op: OpView<S>, shape: ShapeOf) => { readonly [R in keyof S['outputs']]?: readonly number[] };
  /** Further consistency checks (operand shapes against each other); returns a problem, or nothing. */
  readonly verify?: (op: OpView<S>, shape: ShapeOf) => string | undefined;
  /** Forward floating-point operations of one instance of the op. */
  readonly flops: (op: OpView<S>, shape: ShapeOf, graph: GraphView) => number;
}

/** Defines an op kind; `const` keeps the signature's literals (enum values, `optional: true`) in its type. */
export function defineOp<const K extends string, const S extends OpSignature>(def: OpDef<K, S>): OpDef<K, S> {
  return def;
}

/** Operand helpers, so signatures read as a table. */
export const f32 = <const R extends number>(rank: R, doc?: string) => ({ dtype: 'f32', rank, ...(doc ? { doc } : {}) }) as const;
export const i32 = <const R extends number>(rank: R, doc?: string) => ({ dtype: 'i32', rank, ...(doc ? { doc } : {}) }) as const;
export const optional = <const O extends OperandSpec>(o: O, doc: string) => ({ ...o, optional: true, doc }) as const;
/** Attribute helpers. */
export const int = (doc: string, min = 0) => ({ type: 'int', min, doc }) as const;
export const num = (doc: string) => ({ type: 'number', doc }) as const;
export const bool = (doc: string) => ({ type: 'bool', doc }) as const;
export const oneOf = <const V extends readonly string[]>(values: V, doc: string) => ({ type: 'enum', values, doc }) as const;
/** An attribute that may be left out, taking `value`: new options of an op default to the behaviour it had without them. */
export const withDefault = <const A extends AttrSpec, const V extends AttrValueOf<A>>(spec: A, value: V) => ({ ...spec, default: value }) as const;
