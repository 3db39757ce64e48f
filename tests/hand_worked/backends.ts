/**
 * The two backends the hand-worked cases run on: the Float64 reference
 * interpreter and the generated WGSL kernels on WebGPU (through GraphRunner).
 * Both take plain number arrays and give back every tensor they computed, so
 * a case is written once and asserted against either.
 */
import type { Graph } from '../../compiler/ir.ts';
import { gradName } from '../../codegen/wgsl/kernel.ts';
import type { HostArray } from '../../runtime/executor.ts';
import { sharedGpu } from '../../runtime/gpu.ts';
import { GraphRunner } from '../../runtime/graph_runner.ts';
import { referenceBackward, referenceForward, referenceStateUpdates } from '../../codegen/reference/interpreter.ts';
import type { RefGrads, RefValues } from '../../codegen/reference/values.ts';

/** Tensor name → values, as a case writes them. */
export type Given = Readonly<Record<string, readonly number[]>>;

/** Tensor name → values read back from a backend. */
export type Tensors = ReadonlyMap<string, ArrayLike<number>>;

export type BackendName = 'reference' | 'webgpu';

export interface Backend {
  readonly name: BackendName;
  /** The largest accepted |actual − expected| for a float expected to be `expected`. */
  tolerance(expected: number): number;
  /** Runs the graph forward; returns every tensor (the given ones included). */
  forward(graph: Graph, given: Given): Promise<Tensors>;
  /**
   * Runs backward from `values` (a forward result) with these upstream
   * gradients; every loss not in `upstream` gets gradient 1. Returns the
   * gradient of every tensor that has one.
   */
  backward(graph: Graph, values: Tensors, upstream: Given): Promise<Tensors>;
  /** Runs the graph's state updates (bias_update) after `values`' forward pass; returns the updated tensors. */
  stateUpdates(graph: Graph, values: Tensors): Promise<Tensors>;
  /** Frees device resources. */
  dispose(): void;
}

export const BACKEND_NAMES: readonly BackendName[] = ['reference', 'webgpu'];

export function createBackend(name: BackendName): Backend {
  return name === 'reference' ? new ReferenceBackend() : new WebGpuBackend();
}

/** Values of the tensors a graph takes (inputs, params, frozen, state), by name. */
function takenTensors(graph: Graph) {
  return [...graph.tensors.values()].filter((t) => t.role === 'input' || t.role === 'param' || t.role === 'frozen' || t.role === 'state');
}

function valueOf(source: ReadonlyMap<string, ArrayLike<number>>, name: string): ArrayLike<number> {
  const v = source.get(name);
  if (!v) throw new Error(`test: no value given for ${name}`);
  return v;
}

function givenMap(given: Given): Map<string, readonly number[]> {
  return new Map(Object.entries(given));
}

/** The Float64 reference: double precision, so its results must match to 1e-12. */
class ReferenceBackend implements Backend {
  readonly name = 'reference';

  tolerance(): number {
    return 1e-12;
  }

  /** A fresh RefValues holding every tensor of `source` with the graph's dtype. */
  private refValues(graph: Graph, source: ReadonlyMap<string, ArrayLike<number>>): RefValues {
    const values: RefValues = new Map();
    for (const [name, v] of source) {
      values.set(name, graph.tensors.get(name)?.dtype === 'i32' ? Int32Array.from(v) : Float64Array.from(v));
    }
    return values;
  }

  async forward(graph: Graph, given: Given): Promise<Tensors> {
    const values = this.refValues(graph, givenMap(given));
    referenceForward(graph, values);
    return values;
  }

  async backward(graph: Graph, values: Tensors, upstream: Given): Promise<Tensors> {
    const grads: RefGrads = new Map(Object.entries(upstream).map(([k, v]) => [k, Float64Array.from(v)]));
    referenceBackward(graph, this.refValues(graph, values), grads);
    return grads;
  }

  async stateUpdates(graph: Graph, values: Tensors): Promise<Tensors> {
    const updated = this.refValues(graph, values);
    referenceStateUpdates(graph, updated);
    return updated;
  }

  dispose(): void {}
}

/**
 * The generated kernels on this machine's WebGPU adapter, in float32: results
 * must match to a relative 1e-5 of the expected value's magnitude plus an
 * absolute 1e-6. With no adapter, sharedGpu() throws and every case fails.
 */
class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  /** One runner per graph: its pipelines compile once for all the case's passes. */
  private readonly runners = new Map<Graph, GraphRunner>();

  tolerance(expected: number): number {
    return 1e-5 * Math.abs(expected) + 1e-6;
  }

  private async runnerFor(graph: Graph): Promise<GraphRunner> {
    let runner = this.runners.get(graph);
    if (!runner) {
      runner = await GraphRunner.create(await sharedGpu(), graph, 'hand.moe');
      this.runners.set(graph, runner);
    }
    return runner;
  }

  /** Uploads the graph's inputs, params, frozen and state tensors from `source` and runs forward. */
  private async run(graph: Graph, source: ReadonlyMap<string, ArrayLike<number>>): Promise<GraphRunner> {
    const runner = await this.runnerFor(graph);
    const host = new Map<string, HostArray>();
    for (const t of takenTensors(graph)) {
      const v = valueOf(source, t.name);
      host.set(t.name, t.dtype === 'i32' ? Int32Array.from(v) : Float32Array.from(v));
    }
    runner.setValues(host);
    await runner.forward();
    return runner;
  }

  /** Every tensor of the graph that has a buffer on the device. */
  private async readAll(runner: GraphRunner): Promise<Tensors> {
    const out = new Map<string, ArrayLike<number>>();
    for (const name of runner.graph.tensors.keys()) {
      if (runner.executor.has(name)) out.set(name, await runner.read(name));
    }
    return out;
  }

  async forward(graph: Graph, given: Given): Promise<Tensors> {
    return this.readAll(await this.run(graph, givenMap(given)));
  }

  async backward(graph: Graph, values: Tensors, upstream: Given): Promise<Tensors> {
    const runner = await this.run(graph, values);
    await runner.backward(new Map(Object.entries(upstream).map(([k, v]) => [k, Float32Array.from(v)])));
    const grads = new Map<string, ArrayLike<number>>();
    for (const t of graph.tensors.values()) {
      if (runner.executor.has(gradName(t.name))) grads.set(t.name, await runner.readGrad(t.name));
    }
    return grads;
  }

  async stateUpdates(graph: Graph, values: Tensors): Promise<Tensors> {
    const runner = await this.run(graph, values);
    await runner.executor.run(runner.plan.stateUpdates.flatMap((k) => k.forward));
    return this.readAll(runner);
  }

  dispose(): void {
    for (const runner of this.runners.values()) runner.destroy();
    this.runners.clear();
  }
}
