/**
 * Builds an IR graph op by op. Every op (and state update) is verified
 * against its kind's definition as it is added — operands, dtypes, ranks,
 * attributes, inferred shapes — and names must be unique, so a lowering bug
 * fails loudly at compile time.
 */
import type { DType, Graph, Init, Op, OpKind, OpOf, Tensor, TensorRole } from './ir.ts';
import { withDefaults, type AttrsInOf } from './ops/registry.ts';
import { verifyOp } from './ops/verify.ts';
import type { Origin } from './spec.ts';

export class GraphBuilder {
  private readonly tensors = new Map<string, Tensor>();
  private readonly ops: Op[] = [];
  private readonly updates: Op[] = [];
  private readonly losses: string[] = [];

  /** Declares a tensor and returns its name. */
  tensor(name: string, shape: readonly number[], dtype: DType, role: TensorRole, init?: Init): string {
    if (this.tensors.has(name)) throw new Error(`internal: tensor ${name} declared twice`);
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 1) throw new Error(`internal: tensor ${name} has bad shape [${shape.join(', ')}]`);
    }
    this.tensors.set(name, { name, shape: [...shape], dtype, role, ...(init ? { init } : {}) });
    return name;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  shape(name: string): readonly number[] {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`internal: unknown tensor ${name}`);
    return t.shape;
  }

  /** Appends an op after verifying it against its kind's definition; `derived` says how computed attributes came about. */
  op<K extends OpKind>(kind: K, name: string, inputs: OpOf<K>['inputs'], outputs: OpOf<K>['outputs'], attrs: AttrsInOf<K>, origin: Origin, derived?: OpOf<K>['derived']): void {
    this.ops.push(this.make(kind, name, inputs, outputs, attrs, origin, derived));
  }

  /** An op run after each optimizer step (not differentiated), verified like any op. */
  stateUpdate<K extends OpKind>(kind: K, name: string, inputs: OpOf<K>['inputs'], outputs: OpOf<K>['outputs'], attrs: AttrsInOf<K>, origin: Origin): void {
    this.updates.push(this.make(kind, name, inputs, outputs, attrs, origin));
  }

  private make<K extends OpKind>(kind: K, name: string, inputs: OpOf<K>['inputs'], outputs: OpOf<K>['outputs'], attrs: AttrsInOf<K>, origin: Origin, derived?: OpOf<K>['derived']): Op {
    if ([...this.ops, ...this.updates].some((o) => o.name === name)) throw new Error(`internal: op ${name} added twice`);
    const op = { name, kind, inputs, outputs, attrs: withDefaults(kind, attrs), origin, ...(derived ? { derived } : {}) } as unknown as OpOf<K>;
    verifyOp(op as unknown as Parameters<typeof verifyOp>[0], (t) => this.tensors.get(t));
    return op as unknown as Op;
  }

  loss(name: string): void {
    this.losses.push(name);
  }

  build(kind: Graph['kind'], name: string, batch: number, seq: number, output: string): Graph {
    return { kind, name, batch, seq, tensors: this.tensors, ops: this.ops, losses: this.losses, stateUpdates: this.updates, output };
  }
}
