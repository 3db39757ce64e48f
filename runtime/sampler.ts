/**
 * Text generation from a checkpoint, two ways:
 * - with a key/value cache (the default where routing allows): each new
 *   byte runs one decoding step (compiler/lower.ts `lowerDecode`) that
 *   attends to the cached keys and values of the bytes before it, so a byte
 *   costs one token's forward pass instead of the whole window's;
 * - over the window (routers that rank or mix a whole sequence, or on
 *   request): each new byte re-runs the compiled model (the training
 *   harness) over the last `context` bytes.
 * Routers that look at other tokens are handled as docs/ROUTING.md says:
 * - Mixture of Tokens: G sequences are sampled side by side, so every group
 *   mixes G real sequences, as in training;
 * - token choice with capacity: with the cache the B new tokens are routed
 *   together, so capacity never drops one (training could);
 * - expert choice, Soft MoE and Sinkhorn run over the window, where routing
 *   also sees the positions after the current one (filled with the last
 *   byte), which training never did; the caller is warned.
 */
import { numel } from '../compiler/ir.ts';
import { lowerDecode } from '../compiler/lower.ts';
import { wholeSequenceReason } from '../compiler/routing_core.ts';
import { mixingBatch, type ModelSpec } from '../compiler/spec.ts';
import type { HostArray } from './executor.ts';
import { GraphRunner } from './graph_runner.ts';
import { ModelRuntime } from './model_runtime.ts';
import type { Gpu } from './gpu.ts';
import { Rng } from './rng.ts';
import { importCompiledModel, type CompiledModelClass } from './trainer.ts';
import { targetFor } from './tuning.ts';

export interface SampleOptions {
  readonly spec: ModelSpec;
  /** The model's parameters (and trained state) by tensor name: a checkpoint's tensors. */
  readonly weights: ReadonlyMap<string, HostArray>;
  readonly gpu: Gpu;
  readonly prompt: Uint8Array;
  readonly tokens: number;
  readonly temperature: number;
  readonly seed: number;
}

/** Sequences generated side by side: the Mixture of Tokens group size (a multiple of every layer's, when layers differ), else 1. */
export function sampleBatch(spec: ModelSpec): number {
  return mixingBatch(spec);
}

/** Why the spec must be sampled over the window (a router ranks or mixes whole sequences), or nothing: the cache works. */
export function windowOnlyReason(spec: ModelSpec): string | undefined {
  for (const l of spec.layers) if (l.kind === 'moe') {
    const why = wholeSequenceReason(l.routing);
    if (why) return `${l.preset} routing: ${why}`;
  }
  return undefined;
}

/** Picks a byte from logits: argmax at temperature 0, else softmax(logits / T). */
export function pickToken(logits: Float32Array, offset: number, vocab: number, temperature: number, rng: Rng): number {
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[offset + v]! > logits[offset + best]!) best = v;
  if (temperature <= 0) return best;
  let sum = 0;
  const p = new Float64Array(vocab);
  for (let v = 0; v < vocab; v++) sum += p[v] = Math.exp((logits[offset + v]! - logits[offset + best]!) / temperature);
  let r = rng.uniform() * sum;
  for (let v = 0; v < vocab; v++) {
    r -= p[v]!;
    if (r <= 0) return v;
  }
  return best;
}

/** The prompt each of the batch's sequences starts from (a newline when empty). */
function startSequences(opts: SampleOptions, batch: number): number[][] {
  return Array.from({ length: batch }, () => [...(opts.prompt.length ? opts.prompt : Uint8Array.of(10))]);
}

/**
 * One decoding step at a time over a key/value cache: `step(tokens, position)`
 * appends each sequence's token at `position` and returns the logits [B, V]
 * of the next byte. Tested against the whole-window forward pass.
 */
export class DecodeSession {
  private constructor(
    private readonly runner: GraphRunner,
    readonly batch: number,
    readonly context: number,
    readonly vocab: number,
  ) {}

  /**
   * Compiles the decode step of `spec` for `batch` sequences and loads the
   * weights (a checkpoint's tensors by name; caches start empty).
   */
  static async open(spec: ModelSpec, weights: ReadonlyMap<string, HostArray>, gpu: Gpu, batch = sampleBatch(spec)): Promise<DecodeSession> {
    const graph = lowerDecode(spec, batch);
    const values = new Map<string, HostArray>();
    for (const t of graph.tensors.values()) {
      if (t.role === 'activation' || t.role === 'index' || t.role === 'loss') continue;
      const empty = () => (t.dtype === 'i32' ? new Int32Array(numel(t.shape)) : new Float32Array(numel(t.shape)));
      const saved = weights.get(t.name);
      if (t.role === 'input') values.set(t.name, empty());
      else if (saved) values.set(t.name, saved);
      else if (t.role === 'state') values.set(t.name, empty()); // the key/value caches
      else throw new Error(`internal: no weights for ${t.name} of the decode step`);
    }
    const runner = await GraphRunner.create(gpu, graph, spec.source.path, targetFor(gpu), { forwardOnly: true });
    try {
      runner.setValues(values);
    } catch (e) {
      runner.destroy();
      throw e;
    }
    return new DecodeSession(runner, batch, spec.context, spec.vocab);
  }

  /** Appends `tokens[b]` at `position` of every sequence; returns the next byte's logits, [batch, vocab]. */
  async step(tokens: readonly number[], position: number): Promise<Float32Array> {
    if (position < 0 || position >= this.context) throw new Error(`internal: decode position ${position} outside the context ${this.context}`);
    this.runner.executor.write('tokens', Int32Array.from(tokens));
    this.runner.executor.write('positions', new Int32Array(this.batch).fill(position));
    await this.runner.forward();
    return (await this.runner.read('logits')) as Float32Array;
  }

  /** Frees the step's GPU buffers (caches included). */
  destroy(): void {
    this.runner.destroy();
  }
}

/**
 * Generates `tokens` bytes after the prompt for each of the batch's sequences
 * with the key/value cache. When a sequence reaches the context length, the
 * cache restarts from its last context/2 bytes (re-read at positions from 0),
 * so a byte is always predicted from at least that many bytes before it.
 */
export async function sampleWithCache(opts: SampleOptions): Promise<Uint8Array[]> {
  const session = await DecodeSession.open(opts.spec, opts.weights, opts.gpu);
  try {
    const { batch: B, context: S, vocab: V } = session;
    const rng = Rng.forName(opts.seed, 'sample');
    const seqs = startSequences(opts, B);
    let cached = 0;
    let logits: Float32Array = new Float32Array(0);
    /** Reads the last `n` bytes of every sequence into the cache from position 0. */
    const refill = async (n: number) => {
      for (let i = 0; i < n; i++) logits = await session.step(seqs.map((s) => s[s.length - n + i]!), i);
      cached = n;
    };
    await refill(Math.min(seqs[0]!.length, S));
    for (let n = 0; n < opts.tokens; n++) {
      for (let b = 0; b < B; b++) seqs[b]!.push(pickToken(logits, b * V, V, opts.temperature, rng));
      if (n === opts.tokens - 1) break;
      if (cached === S) await refill(Math.max(1, Math.floor(S / 2)));
      else logits = await session.step(seqs.map((s) => s.at(-1)!), cached++);
    }
    return seqs.map((s) => Uint8Array.from(s.slice(s.length - opts.tokens)));
  } finally {
    session.destroy();
  }
}

/**
 * Generates `tokens` bytes by re-running the compiled model (`modelDir`, at
 * batch `sampleBatch(spec)`) over the last `context` bytes for every new byte.
 */
export async function sampleOverWindow(opts: SampleOptions & { readonly modelDir: string }): Promise<Uint8Array[]> {
  const cls = await importCompiledModel(opts.modelDir);
  const rt = await ModelRuntime.open(opts.modelDir, opts.gpu);
  try {
    return await overWindow(opts, cls, rt);
  } finally {
    rt.executor.destroy();
  }
}

async function overWindow(opts: SampleOptions, cls: CompiledModelClass, rt: ModelRuntime): Promise<Uint8Array[]> {
  const model = new cls(rt);
  await model.allocate();
  // Parameters, frozen weights and trained state (loss-free biases) only: not optimizer moments, nor inputs.
  for (const p of rt.manifest.parameters) {
    const data = opts.weights.get(p.name);
    if (data) await rt.write(p.name, data);
  }
  const B = cls.batch;
  const S = cls.context;
  const V = cls.vocab;
  const rng = Rng.forName(opts.seed, 'sample');
  const seqs = startSequences(opts, B);
  const tokens = new Int32Array(B * S);
  const targets = new Int32Array(B * S);
  for (let n = 0; n < opts.tokens; n++) {
    let pos = 0;
    for (let b = 0; b < B; b++) {
      const window = seqs[b]!.slice(-S);
      pos = window.length - 1;
      for (let i = 0; i < S; i++) tokens[b * S + i] = window[Math.min(i, window.length - 1)]!;
    }
    await model.evaluate(tokens, targets);
    const logits = (await rt.read(['logits'])).get('logits') as Float32Array;
    for (let b = 0; b < B; b++) seqs[b]!.push(pickToken(logits, (b * S + pos) * V, V, opts.temperature, rng));
  }
  return seqs.map((s) => Uint8Array.from(s.slice(s.length - opts.tokens)));
}
