/**
 * A training plan run as it stands, without generating `model.ts`: the same
 * buffers, kernels and order as the harness that codegen/harness writes
 * (forward, backward, gradient norm and update, state updates, following the
 * plan's Schedule), for places that cannot write and import a TypeScript
 * file — the browser playground compiles a spec in the page and trains it
 * with this. Tested to give the generated harness's numbers bit for bit.
 */
import type { MicroBatchPhase, StepPhase } from '../compiler/schedule.ts';
import { harnessKernels, passKernels, type TrainPlan } from '../codegen/train_plan.ts';
import type { Kernel } from '../codegen/wgsl/kernel.ts';
import { STATE, STATE_BUFFER } from '../codegen/wgsl/train_state.ts';
import type { Gpu } from './gpu.ts';
import { ModelRuntime, type Manifest } from './model_runtime.ts';

/** A compiled model's training step, run from its plan (the generated class's members, as methods of one class). */
export class PlanModel {
  readonly batch: number;
  readonly context: number;
  readonly vocab: number;
  readonly accumulate: number;
  readonly losses: readonly string[];

  private constructor(
    readonly rt: ModelRuntime,
    private readonly plan: TrainPlan,
  ) {
    this.batch = plan.graph.batch;
    this.context = plan.graph.seq;
    this.vocab = plan.spec.vocab;
    this.accumulate = plan.spec.train.accumulate;
    this.losses = plan.graph.losses;
  }

  /** A model over `plan` (which must not record or replay routing) on `gpu`; call allocate() next. */
  static create(gpu: Gpu, plan: TrainPlan): PlanModel {
    if (plan.routing) throw new Error('internal: routing record and replay need the generated harness');
    const { spec, graph } = plan;
    const sources = new Map(harnessKernels(plan).map((k) => [k.id, { source: k.source, origin: k.origin }]));
    const manifest: Manifest = {
      spec: { name: spec.name, path: spec.source.path, text: spec.source.text },
      parameters: [...graph.tensors.values()].filter((t) => t.role === 'param' || t.role === 'frozen' || t.role === 'state').map((t) => ({ name: t.name, shape: [...t.shape], role: t.role, ...(t.init ? { init: t.init } : {}) })),
      buffers: plan.buffers.map((b) => ({ name: b.name, elements: b.elements, dtype: b.dtype, kind: b.kind })),
      kernels: [],
      constants: Object.fromEntries(plan.buffers.filter((b) => b.kind === 'constant').map((b) => [b.name, Array.from(b.data ?? [])])),
    };
    return new PlanModel(ModelRuntime.fromSources(gpu, sources, manifest), plan);
  }

  /** Declares and allocates every buffer, compiles every kernel, and sets each loss's gradient to 1/accumulate. */
  async allocate(): Promise<void> {
    for (const b of this.plan.buffers) this.rt.buffer(b.name, b.elements, b.dtype, b.kind === 'constant' ? 'tensor' : b.kind);
    await this.rt.allocate([...new Set(harnessKernels(this.plan).map((k) => k.id))]);
    for (const g of this.plan.lossGrads) await this.rt.write(g, Float32Array.of(1 / this.accumulate));
  }

  private dispatch(kernels: readonly Kernel[]): void {
    for (const k of kernels) this.rt.dispatch(k.id, k.bindings.map((b) => b.buffer), k.workgroups);
  }

  private forward(): void {
    for (const o of passKernels(this.plan, this.plan.schedule.forward, 'forward')) this.dispatch(o.kernels);
  }

  private backward(): void {
    this.rt.zero(this.plan.activationGrads);
    for (const o of passKernels(this.plan, this.plan.schedule.backward, 'backward')) this.dispatch(o.kernels);
  }

  /** One optimizer step over `micro` (accumulate micro-batches), as the generated trainStep does. */
  async trainStep(micro: readonly { tokens: Int32Array; targets: Int32Array }[], hyper: { lr: number; step: number }): Promise<void> {
    if (micro.length !== this.accumulate) throw new Error(`internal: trainStep needs ${this.accumulate} micro-batches, got ${micro.length}`);
    const o = this.plan.spec.train.optimizer;
    const state = new Float32Array(STATE.size);
    state[STATE.lr] = hyper.lr;
    state[STATE.correction1] = 1 - Math.pow(o.beta1, hyper.step);
    state[STATE.correction2] = 1 - Math.pow(o.beta2, hyper.step);
    state[STATE.step] = hyper.step;
    state[STATE.training] = 1;
    await this.rt.write(STATE_BUFFER, state);
    const phase = async (p: StepPhase | MicroBatchPhase, m?: { tokens: Int32Array; targets: Int32Array }): Promise<void> => {
      switch (p.kind) {
        case 'zero_param_grads':
          return this.rt.zero(this.plan.paramGrads);
        case 'micro_batches':
          for (const batch of micro) for (const q of p.phases) await phase(q, batch);
          return;
        case 'load_batch':
          await this.rt.write('tokens', m!.tokens);
          await this.rt.write('targets', m!.targets);
          return;
        case 'forward':
          return this.forward();
        case 'zero_activation_grads':
          return;
        case 'backward':
          return this.backward();
        case 'gradient_norm':
          return;
        case 'optimizer_update':
          this.dispatch(this.plan.norm);
          return this.dispatch(this.plan.update);
        case 'state_updates':
          for (const u of passKernels(this.plan, this.plan.schedule.stateUpdates, 'forward')) this.dispatch(u.kernels);
          return;
      }
    };
    for (const p of this.plan.schedule.step) await phase(p);
    await this.rt.submit();
  }

  /** Forward only, without jitter; read `logits` and the losses afterwards. */
  async evaluate(tokens: Int32Array, targets: Int32Array): Promise<void> {
    await this.rt.write(STATE_BUFFER, new Float32Array(STATE.size));
    await this.rt.write('tokens', tokens);
    await this.rt.write('targets', targets);
    this.forward();
    await this.rt.submit();
  }
}
