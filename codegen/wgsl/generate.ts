/**
 * IR → WGSL: one generator per op kind, joined from the tables each ops file
 * exports (a mapped type over the registry, so a kind without kernels is a
 * type error), and the graph-level plan: every op's forward and backward
 * kernels plus every buffer they touch.
 */
import type { DType, Graph, Op, OpKind, Tensor } from '../../compiler/ir.ts';
import { numel } from '../../compiler/ir.ts';
import { DEFAULT_TARGET, gradName, type BufferDecl, type OpKernels, type Target } from './kernel.ts';
import type { KernelGenerator, KernelTable, OpContext } from './kernel_writer.ts';
import { ATTENTION_KERNELS } from './ops/attention.ts';
import { MIXING_KERNELS } from './ops/combine.ts';
import { ELEMENTWISE_KERNELS } from './ops/elementwise.ts';
import { FFN_KERNELS } from './ops/ffn.ts';
import { LINEAR_KERNELS } from './ops/linear.ts';
import { LOSS_KERNELS } from './ops/losses.ts';
import { NORM_KERNELS } from './ops/norm.ts';
import { ROUTING_KERNELS } from './ops/routing.ts';
import { TOKEN_CHOICE_KERNELS } from './ops/token_choice.ts';

/** Every op kind's kernel generator, from the tables of the ops files; a kind missing from all of them is a type error. */
const GENERATORS: KernelTable<OpKind> = {
  ...ELEMENTWISE_KERNELS,
  ...NORM_KERNELS,
  ...LINEAR_KERNELS,
  ...ATTENTION_KERNELS,
  ...FFN_KERNELS,
  ...ROUTING_KERNELS,
  ...TOKEN_CHOICE_KERNELS,
  ...MIXING_KERNELS,
  ...LOSS_KERNELS,
};

export interface GenerateOptions {
  readonly target?: Target;
  /** The spec's path, named in kernel headers. */
  readonly specPath: string;
  /**
   * Which tensors get gradients (default: f32 params, activations, losses and
   * f32 inputs; never frozen weights, state or indices).
   */
  readonly needsGrad?: (t: Tensor) => boolean;
  /** Kernels for training (router jitter on); default false: deterministic test and layer kernels. */
  readonly training?: boolean;
  /** Seed of the jitter noise. */
  readonly seed?: number;
}

/** The default gradient rule of docs/IR.md. */
export function defaultNeedsGrad(t: Tensor): boolean {
  return t.dtype === 'f32' && (t.role === 'param' || t.role === 'activation' || t.role === 'loss' || t.role === 'input');
}

class Context implements OpContext {
  constructor(
    readonly op: Op,
    private readonly graph: Graph,
    readonly target: Target,
    readonly specPath: string,
    private readonly rule: (t: Tensor) => boolean,
    private readonly buffers: Map<string, BufferDecl>,
    readonly training: boolean,
    readonly seed: number,
  ) {}

  private info(name: string): Tensor {
    const t = this.graph.tensors.get(name);
    if (!t) throw new Error(`internal: op ${this.op.name} refers to unknown tensor ${name}`);
    return t;
  }

  shape(name: string): readonly number[] {
    return this.info(name).shape;
  }

  needsGrad(name: string): boolean {
    return this.rule(this.info(name));
  }

  private add(b: BufferDecl): string {
    const prev = this.buffers.get(b.name);
    if (prev && (prev.elements !== b.elements || prev.dtype !== b.dtype || prev.kind !== b.kind)) {
      throw new Error(`internal: buffer ${b.name} declared twice with different shapes`);
    }
    if (!prev) this.buffers.set(b.name, b);
    return b.name;
  }

  tensor(name: string): string {
    const t = this.info(name);
    return this.add({ name, elements: numel(t.shape), dtype: t.dtype, kind: 'tensor' });
  }

  grad(name: string): string {
    const t = this.info(name);
    return this.add({ name: gradName(name), elements: numel(t.shape), dtype: 'f32', kind: 'grad' });
  }

  saved(suffix: string, elements: number, dtype: DType = 'f32'): string {
    return this.add({ name: `${this.op.name}/${suffix}`, elements, dtype, kind: 'saved' });
  }

  scratch(suffix: string, elements: number, dtype: DType = 'f32'): string {
    return this.add({ name: `${this.op.name}/${suffix}`, elements, dtype, kind: 'scratch' });
  }

  constant(suffix: string, data: Float32Array): string {
    return this.add({ name: `${this.op.name}/${suffix}`, elements: data.length, dtype: 'f32', kind: 'constant', data });
  }
}

/** The kernels of one op of `graph`. */
export function generateOp(op: Op, graph: Graph, opts: GenerateOptions): OpKernels {
  const buffers = new Map<string, BufferDecl>();
  const ctx = new Context(op, graph, opts.target ?? DEFAULT_TARGET, opts.specPath, opts.needsGrad ?? defaultNeedsGrad, buffers, opts.training ?? false, opts.seed ?? 0);
  // The registry's mapped type guarantees GENERATORS[op.kind] takes this op's kind; TypeScript cannot follow the correlation.
  const { forward, backward } = (GENERATORS[op.kind] as KernelGenerator<Op>)(ctx);
  return { op, forward, backward, buffers: [...buffers.values()] };
}

/** Every op's kernels, the state updates' kernels, and the union of their buffers. */
export interface GraphKernels {
  readonly ops: readonly OpKernels[];
  readonly stateUpdates: readonly OpKernels[];
  readonly buffers: readonly BufferDecl[];
  /** The kernels of an op (or state update) of the graph, by its name. */
  readonly byOp: ReadonlyMap<string, OpKernels>;
}

export function generateGraph(graph: Graph, opts: GenerateOptions): GraphKernels {
  const ops = graph.ops.map((op) => generateOp(op, graph, opts));
  const stateUpdates = graph.stateUpdates.map((op) => generateOp(op, graph, opts));
  const buffers = new Map<string, BufferDecl>();
  for (const k of [...ops, ...stateUpdates]) for (const b of k.buffers) if (!buffers.has(b.name)) buffers.set(b.name, b);
  const byOp = new Map([...ops, ...stateUpdates].map((k) => [k.op.name, k]));
  return { ops, stateUpdates, buffers: [...buffers.values()], byOp };
}
