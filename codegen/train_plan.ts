/**
 * The complete schedule of one training step, as data: every buffer, and the
 * kernels of forward, backward, gradient norm, optimizer update and state
 * updates, in dispatch order. The harness generator writes it out as
 * TypeScript; runtime/plan_model.ts runs it as data where no file can be
 * written (the browser). Neither interprets the IR at run time.
 */
import type { Graph, Op, Tensor } from '../compiler/ir.ts';
import { lowerModel, type LowerShape } from '../compiler/lower.ts';
import { scheduleOf, type Schedule } from '../compiler/schedule.ts';
import type { ModelSpec } from '../compiler/spec.ts';
import { generateGraph } from './wgsl/generate.ts';
import { gradName, type BufferDecl, type Kernel, type OpKernels, type Target } from './wgsl/kernel.ts';
import { optimizerKernels } from './wgsl/optimizer.ts';

export interface TrainPlan {
  readonly spec: ModelSpec;
  readonly graph: Graph;
  /** The order of the step's work; the harness writes it out. */
  readonly schedule: Schedule;
  readonly buffers: readonly BufferDecl[];
  /** Per IR op, its forward and backward kernels (graph order). */
  readonly ops: readonly OpKernels[];
  /** The kernels of an op or state update, by op name. */
  readonly byOp: ReadonlyMap<string, OpKernels>;
  /** Loss-free balancing updates, after the optimizer step. */
  readonly stateUpdates: readonly OpKernels[];
  readonly norm: readonly Kernel[];
  readonly update: readonly Kernel[];
  /** Trained parameters, in graph order. */
  readonly params: readonly Tensor[];
  /** Gradients of parameters: zeroed once per step (they accumulate over micro-batches). */
  readonly paramGrads: readonly string[];
  /** Every other gradient: zeroed before each backward pass. */
  readonly activationGrads: readonly string[];
  /** Gradients of the loss tensors: set to 1/accumulate before each backward pass. */
  readonly lossGrads: readonly string[];
  /** Routing record or replay (`moec train --record-routing / --replay-routing`), or null. */
  readonly routing: RoutingPlan | null;
}

/**
 * Routing record or replay: the selections of every token-choice MoE layer,
 * read after each micro-batch's forward (record) or written before it
 * (replay), by the name of the layer's `token_expert`.
 */
export interface RoutingPlan {
  readonly mode: 'record' | 'replay';
  readonly tables: readonly { readonly tokenExpert: string; readonly replay: string; readonly shape: readonly [number, number]; readonly experts: number }[];
}

/**
 * Builds the training schedule of a spec at its training shape (or `shape`,
 * e.g. for sampling); `routing` records or replays every token-choice
 * layer's selections.
 */
export function trainPlan(spec: ModelSpec, target: Target, shape?: LowerShape, routing?: RoutingPlan['mode']): TrainPlan {
  const graph = lowerModel(spec, shape, { replayRouting: routing === 'replay' });
  const kernels = generateGraph(graph, { specPath: spec.source.path, target, training: true, seed: spec.train.seed });
  const params = [...graph.tensors.values()].filter((t) => t.role === 'param');
  const opt = optimizerKernels(params, spec.train.optimizer, spec.train.clip, target, spec.source.path);
  const buffers = new Map<string, BufferDecl>();
  for (const b of [...kernels.buffers, ...opt.buffers]) if (!buffers.has(b.name)) buffers.set(b.name, b);
  const grads = [...buffers.values()].filter((b) => b.kind === 'grad').map((b) => b.name);
  const paramGrads = params.map((p) => gradName(p.name)).filter((g) => buffers.has(g));
  const lossGrads = graph.losses.map(gradName).filter((g) => buffers.has(g));
  return {
    spec,
    graph,
    schedule: scheduleOf(graph),
    buffers: [...buffers.values()],
    ops: kernels.ops,
    byOp: kernels.byOp,
    stateUpdates: kernels.stateUpdates,
    norm: opt.norm,
    update: opt.update,
    params,
    paramGrads,
    activationGrads: grads.filter((g) => !paramGrads.includes(g) && !lossGrads.includes(g)),
    lossGrads,
    routing: routing ? { mode: routing, tables: routingTables(graph) } : null,
  };
}

/** The selection of every token-choice layer: its token_expert, and the replay input beside it. */
function routingTables(graph: Graph): RoutingPlan['tables'] {
  return graph.ops.flatMap((op) => {
    if (op.kind !== 'select_top_k') return [];
    const shape = graph.tensors.get(op.outputs.token_expert)!.shape as [number, number];
    const experts = graph.tensors.get(op.inputs.probs)!.shape[1]!;
    return [{ tokenExpert: op.outputs.token_expert, replay: op.outputs.token_expert.replace(/token_expert$/, 'replay_expert'), shape, experts }];
  });
}

/** The kernels of the schedule's ops in one pass. */
export function passKernels(plan: TrainPlan, ops: readonly Op[], pass: 'forward' | 'backward'): { op: Op; kernels: readonly Kernel[] }[] {
  return ops.map((op) => ({ op, kernels: plan.byOp.get(op.name)![pass] }));
}

/** Every kernel in the order the step dispatches them (the order they are compiled in). */
export function harnessKernels(plan: TrainPlan): Kernel[] {
  const { schedule } = plan;
  return [
    ...passKernels(plan, schedule.forward, 'forward').flatMap((o) => o.kernels),
    ...passKernels(plan, schedule.backward, 'backward').flatMap((o) => o.kernels),
    ...plan.norm,
    ...plan.update,
    ...passKernels(plan, schedule.stateUpdates, 'forward').flatMap((o) => o.kernels),
  ];
}

/** Every kernel of a plan, in no particular order (for checks over all of them). */
export function planKernels(plan: TrainPlan): Kernel[] {
  return [...[...plan.ops, ...plan.stateUpdates].flatMap((k) => [...k.forward, ...k.backward]), ...plan.norm, ...plan.update];
}
