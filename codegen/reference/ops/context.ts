/**
 * What an op implementation sees of its operands: typed, size-checked access
 * to its inputs, freshly allocated outputs, its attributes, and (in backward)
 * the upstream gradients of its outputs and the gradient buffers of its
 * inputs. Every check throws with the op's name, so a malformed graph or a
 * missing value fails loudly instead of producing wrong numbers.
 */
import type { Graph, Op, OpKind, Tensor } from '../../../compiler/ir.ts';
import { numel } from '../../../compiler/ir.ts';
import { allocateTensor, takesGradient, type RefGrads, type RefTensor, type RefValues } from '../values.ts';

/** One op kind's reference implementation, typed by the op it takes. */
export interface OpImpl<O extends Op = Op> {
  /** Computes the op's outputs from its inputs in `values` and stores them there. */
  readonly forward: (op: O, graph: Graph, values: RefValues) => void;
  /** Adds the gradients of the op's differentiable inputs into `grads`, given those of its outputs. */
  readonly backward: (op: O, graph: Graph, values: RefValues, grads: RefGrads) => void;
}

/** The implementations of a group of kinds, each typed by its own kind's op. */
export type OpTable<K extends OpKind> = { readonly [P in K]: OpImpl<Extract<Op, { kind: P }>> };

/** Role and attribute names of an op type (for the untyped `Op`, those of every kind). */
type InRole<O> = O extends Op ? keyof O['inputs'] & string : never;
type OutRole<O> = O extends Op ? keyof O['outputs'] & string : never;
type AttrName<O> = O extends Op ? keyof O['attrs'] & string : never;

/**
 * One op's view of the interpreter state, made fresh for each forward or
 * backward call. `grads` is given in backward only.
 */
export class OpContext<O extends Op = Op> {
  constructor(
    readonly op: O,
    private readonly graph: Graph,
    private readonly values: RefValues,
    private readonly grads?: RefGrads,
  ) {}

  private fail(message: string): never {
    throw new Error(`reference: ${this.op.kind} op ${this.op.name}: ${message}`);
  }

  private tensor(name: string): Tensor {
    const t = this.graph.tensors.get(name);
    if (!t) this.fail(`unknown tensor ${name}`);
    return t;
  }

  /** The tensor bound to a role, if any (roles of the op's kind; the maps are read by name). */
  private boundInput(role: string): string | undefined {
    return (this.op.inputs as Readonly<Record<string, string | undefined>>)[role];
  }

  private boundOutput(role: string): string | undefined {
    return (this.op.outputs as Readonly<Record<string, string | undefined>>)[role];
  }

  private inputName(role: InRole<O>): string {
    const name = this.boundInput(role);
    if (name === undefined) this.fail(`missing input '${role}'`);
    return name;
  }

  private outputName(role: OutRole<O>): string {
    const name = this.boundOutput(role);
    if (name === undefined) this.fail(`missing output '${role}'`);
    return name;
  }

  /** Whether the op has this (optional) input. */
  hasInput(role: InRole<O>): boolean {
    return this.boundInput(role) !== undefined;
  }

  /** Whether the op has this (optional) output. */
  hasOutput(role: OutRole<O>): boolean {
    return this.boundOutput(role) !== undefined;
  }

  /** The declared shape of an input. */
  inShape(role: InRole<O>): readonly number[] {
    return this.tensor(this.inputName(role)).shape;
  }

  /** The shape of an input, checked to have `rank` dimensions. */
  inDims(role: InRole<O>, rank: number): readonly number[] {
    const shape = this.inShape(role);
    if (shape.length !== rank) this.fail(`input '${role}' must have ${rank} dimensions, has [${shape.join(', ')}]`);
    return shape;
  }

  /** The shape of an output, checked to have `rank` dimensions. */
  outDims(role: OutRole<O>, rank: number): readonly number[] {
    const shape = this.outShape(role);
    if (shape.length !== rank) this.fail(`output '${role}' must have ${rank} dimensions, has [${shape.join(', ')}]`);
    return shape;
  }

  /** The declared shape of an output. */
  outShape(role: OutRole<O>): readonly number[] {
    return this.tensor(this.outputName(role)).shape;
  }

  /** An f32 input's value (checked for type and size). */
  f64(role: InRole<O>): Float64Array {
    const name = this.inputName(role);
    const v = this.values.get(name);
    if (!(v instanceof Float64Array)) this.fail(`input '${role}' (${name}) has no Float64Array value`);
    this.checkSize(name, v.length);
    return v;
  }

  /** An i32 input's value (checked for type and size). */
  i32(role: InRole<O>): Int32Array {
    const name = this.inputName(role);
    const v = this.values.get(name);
    if (!(v instanceof Int32Array)) this.fail(`input '${role}' (${name}) has no Int32Array value`);
    this.checkSize(name, v.length);
    return v;
  }

  private checkSize(name: string, length: number): void {
    const expected = numel(this.tensor(name).shape);
    if (length !== expected) this.fail(`${name} holds ${length} elements, its shape needs ${expected}`);
  }

  /** Allocates an f32 output (zeros) after checking its declared shape, stores it in `values` and returns it. */
  outF64(role: OutRole<O>, shape: readonly number[]): Float64Array {
    return this.allocate(role, shape, 'f32') as Float64Array;
  }

  /** Allocates an i32 output (zeros) after checking its declared shape, stores it in `values` and returns it. */
  outI32(role: OutRole<O>, shape: readonly number[]): Int32Array {
    return this.allocate(role, shape, 'i32') as Int32Array;
  }

  /** The value an output already holds: a state tensor that the op updates (bias_update). */
  currentF64(role: OutRole<O>): Float64Array {
    const name = this.outputName(role);
    const v = this.values.get(name);
    if (!(v instanceof Float64Array)) this.fail(`output '${role}' (${name}) has no Float64Array value to update`);
    this.checkSize(name, v.length);
    return v;
  }

  private allocate(role: OutRole<O>, shape: readonly number[], dtype: 'f32' | 'i32'): RefTensor {
    const name = this.outputName(role);
    const t = this.tensor(name);
    if (t.dtype !== dtype) this.fail(`output '${role}' (${name}) must be ${dtype}`);
    if (t.shape.join() !== shape.join()) this.fail(`output '${role}' (${name}) is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    const v = allocateTensor(t);
    this.values.set(name, v);
    return v;
  }

  private attrs(): Readonly<Record<string, unknown>> {
    return this.op.attrs;
  }

  /** A numeric attribute (required). */
  num(attr: AttrName<O>): number {
    const v = this.attrs()[attr];
    if (typeof v !== 'number') this.fail(`attribute '${attr}' must be a number, got ${String(v)}`);
    return v;
  }

  /** A numeric attribute, or `fallback` when absent. */
  numOr(attr: AttrName<O>, fallback: number): number {
    return this.attrs()[attr] === undefined ? fallback : this.num(attr);
  }

  /** An integer attribute (required). */
  int(attr: AttrName<O>): number {
    const v = this.num(attr);
    if (!Number.isSafeInteger(v)) this.fail(`attribute '${attr}' must be an integer, got ${v}`);
    return v;
  }

  /** A boolean attribute; absent means false. */
  bool(attr: AttrName<O>): boolean {
    const v = this.attrs()[attr];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') this.fail(`attribute '${attr}' must be a boolean, got ${String(v)}`);
    return v;
  }

  /** Throws this op's error unless `ok`. */
  check(ok: boolean, message: string): void {
    if (!ok) this.fail(message);
  }

  /**
   * The upstream gradient of an f32 output. Absent means zero, except for a
   * `loss` output, whose gradient is 1 (the objective is the sum of the losses).
   */
  dy(role: OutRole<O>): Float64Array {
    const name = this.outputName(role);
    const t = this.tensor(name);
    const g = this.grads?.get(name);
    if (g) {
      this.checkSize(name, g.length);
      return g;
    }
    const zero = allocateTensor(t) as Float64Array;
    if (t.role === 'loss') zero.fill(1);
    return zero;
  }

  /**
   * The gradient buffer of an input, created as zeros when absent, that
   * backward adds (`+=`) into; null when the input takes no gradient (frozen,
   * state, index or i32) or there is no such input.
   */
  dx(role: InRole<O>): Float64Array | null {
    if (!this.grads) this.fail('no gradient map (backward only)');
    const name = this.boundInput(role);
    if (name === undefined || !takesGradient(this.graph, name)) return null;
    let g = this.grads.get(name);
    if (!g) {
      g = allocateTensor(this.tensor(name)) as Float64Array;
      this.grads.set(name, g);
    }
    this.checkSize(name, g.length);
    return g;
  }
}
