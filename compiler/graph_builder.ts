/**
 * Builds an IR graph op by op, checking that every operand exists and that
 * names are unique, so a lowering bug fails loudly at compile time.
 */
import type { AttrValue, DType, Graph, Init, Op, OpKind, Tensor, TensorRole } from './ir.ts';
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

  /** Appends an op; every operand must already be declared. */
  op(kind: OpKind, name: string, inputs: Record<string, string>, outputs: Record<string, string>, attrs: Record<string, AttrValue>, origin: Origin): void {
    for (const t of [...Object.values(inputs), ...Object.values(outputs)]) {
      if (!this.tensors.has(t)) throw new Error(`internal: op ${name} uses undeclared tensor ${t}`);
    }
    this.ops.push({ name, kind, inputs, outputs, attrs, origin });
  }

  /** An op run after each optimizer step (not differentiated). */
  stateUpdate(kind: OpKind, name: string, inputs: Record<string, string>, outputs: Record<string, string>, attrs: Record<string, AttrValue>, origin: Origin): void {
    this.updates.push({ name, kind, inputs, outputs, attrs, origin });
  }

  loss(name: string): void {
    this.losses.push(name);
  }

  build(kind: Graph['kind'], name: string, batch: number, seq: number, output: string): Graph {
    return { kind, name, batch, seq, tensors: this.tensors, ops: this.ops, losses: this.losses, stateUpdates: this.updates, output };
  }
}
