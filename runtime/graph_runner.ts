/**
 * Runs a whole lowered graph on the GPU, forward then backward, with the
 * generated kernels in the order of the graph's Schedule. Used by
 * `moec layer` and the determinism tests; the training harness spells the
 * same Schedule out as generated code.
 */
import type { Graph } from '../compiler/ir.ts';
import { scheduleOf, type Schedule } from '../compiler/schedule.ts';
import { generateGraph, type GraphKernels } from '../codegen/wgsl/generate.ts';
import { assertFits } from './device_budget.ts';
import { gradName, type Target } from '../codegen/wgsl/kernel.ts';
import { Executor, type HostArray } from './executor.ts';
import type { Gpu } from './gpu.ts';
import { targetFor } from './tuning.ts';

export class GraphRunner {
  private readonly schedule: Schedule;

  private constructor(
    readonly graph: Graph,
    readonly plan: GraphKernels,
    readonly executor: Executor,
  ) {
    this.schedule = scheduleOf(graph);
  }

  private kernels(pass: 'forward' | 'backward') {
    return this.schedule[pass].flatMap((op) => this.plan.byOp.get(op.name)![pass]);
  }

  /**
   * Generates the graph's kernels, allocates their buffers and compiles every
   * pipeline up front. `forwardOnly`: no gradient buffers or backward kernels
   * (sampling's decode graph).
   */
  static async create(gpu: Gpu, graph: Graph, specPath: string, target: Target = targetFor(gpu), opts: { forwardOnly?: boolean } = {}): Promise<GraphRunner> {
    const plan = generateGraph(graph, { specPath, target, ...(opts.forwardOnly ? { needsGrad: () => false } : {}) });
    assertFits(gpu, graph, plan.buffers, [...plan.ops, ...plan.stateUpdates].flatMap((k) => [...k.forward, ...k.backward]));
    const executor = new Executor(gpu, specPath);
    await executor.allocate(plan.buffers);
    await executor.prepare([...plan.ops, ...plan.stateUpdates].flatMap((k) => [...k.forward, ...k.backward]));
    return new GraphRunner(graph, plan, executor);
  }

  /** Uploads inputs, params, frozen and state tensors. Every one the graph needs must be given. */
  setValues(values: ReadonlyMap<string, HostArray>): void {
    for (const t of this.graph.tensors.values()) {
      if (t.role === 'input' || t.role === 'param' || t.role === 'frozen' || t.role === 'state') {
        const v = values.get(t.name);
        if (!v) throw new Error(`internal: no value for ${t.name}`);
        if (this.executor.has(t.name)) this.executor.write(t.name, v);
      }
    }
  }

  async forward(): Promise<void> {
    await this.executor.run(this.kernels('forward'));
  }

  /**
   * Backward from upstream gradients of outputs (e.g. `y` → dy); every loss
   * gets gradient 1. All other gradients start at zero.
   */
  async backward(upstream: ReadonlyMap<string, Float32Array>): Promise<void> {
    const grads = this.plan.buffers.filter((b) => b.kind === 'grad').map((b) => b.name);
    this.executor.zero(grads);
    for (const loss of this.graph.losses) if (this.executor.has(gradName(loss))) this.executor.fill(gradName(loss), 1);
    for (const [t, g] of upstream) this.executor.write(gradName(t), g);
    await this.executor.run(this.kernels('backward'));
  }

  read(name: string): Promise<HostArray> {
    return this.executor.read(name);
  }

  /** The gradient of a tensor (zeros if nothing contributes to it). */
  async readGrad(name: string): Promise<Float32Array> {
    if (!this.executor.has(gradName(name))) return new Float32Array(this.graph.tensors.get(name)!.shape.reduce((a, b) => a * b, 1));
    return (await this.executor.read(gradName(name))) as Float32Array;
  }

  destroy(): void {
    this.executor.destroy();
  }
}
