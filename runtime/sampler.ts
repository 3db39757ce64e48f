/**
 * Text generation from a checkpoint with the compiled model's forward pass
 * (no cache: each new byte re-runs the context window). Routers that look
 * at other tokens are handled as docs/ROUTING.md says:
 * - Mixture of Tokens: G sequences are sampled side by side, so every group
 *   mixes G real sequences, as in training (batch padding with live samples);
 * - expert choice and Soft MoE: routing sees the positions after the current
 *   one (filled with the last byte), which training never did; the caller is
 *   warned, never silently wrong.
 */
import { mixingBatch, type ModelSpec } from '../compiler/spec.ts';
import type { Checkpoint } from './checkpoint.ts';
import { ModelRuntime } from './model_runtime.ts';
import type { Gpu } from './gpu.ts';
import { Rng } from './rng.ts';
import { importCompiledModel } from './trainer.ts';

export interface SampleOptions {
  readonly spec: ModelSpec;
  readonly checkpoint: Checkpoint;
  readonly gpu: Gpu;
  /** A compiled model of `spec` at batch `sampleBatch(spec)`, context `spec.context`. */
  readonly modelDir: string;
  readonly prompt: Uint8Array;
  readonly tokens: number;
  readonly temperature: number;
  readonly seed: number;
}

/** Sequences generated side by side: the Mixture of Tokens group size (a multiple of every layer's, when layers differ), else 1. */
export function sampleBatch(spec: ModelSpec): number {
  return mixingBatch(spec);
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

/** Generates `tokens` bytes after the prompt for each of the batch's sequences. */
export async function sample(opts: SampleOptions): Promise<Uint8Array[]> {
  const cls = await importCompiledModel(opts.modelDir);
  const rt = await ModelRuntime.open(opts.modelDir, opts.gpu);
  const model = new cls(rt);
  await model.allocate();
  for (const [name, t] of opts.checkpoint.tensors) if (rt.executor.has(name) && !name.startsWith('optimizer.')) await rt.write(name, t.data);
  const B = cls.batch;
  const S = cls.context;
  const V = cls.vocab;
  const rng = Rng.forName(opts.seed, 'sample');
  const seqs = Array.from({ length: B }, () => [...(opts.prompt.length ? opts.prompt : Uint8Array.of(10))]);
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
