/**
 * The standard top-2 MoE layer written the usual way in TensorFlow.js with
 * its WebGPU backend, on the same Dawn adapter: router matmul, softmax,
 * top-k, per-expert gather, two matmuls per expert, weighted segment-sum.
 * The per-expert token counts are read back once per call (TF.js needs
 * static shapes), as TF.js MoE code does. Dev-only: the benchmark's peer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Gpu } from '../runtime/gpu.ts';
import { Rng } from '../runtime/rng.ts';
import { time, type Timing } from './timing.ts';

type Tf = typeof import('@tensorflow/tfjs-core');

let tfPromise: Promise<Tf> | undefined;

/**
 * TF.js on the WebGPU backend, using the same Dawn instance's navigator.gpu.
 * tfjs-core registers its gradients only from its ES module sources, whose
 * extensionless imports Node cannot load; esbuild bundles core, gradients and
 * the WebGPU backend into one module so they share one engine.
 */
async function loadTf(gpu: Gpu): Promise<Tf> {
  tfPromise ??= (async () => {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator?.gpu) Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: gpu.instance }, configurable: true });
    const esbuild = await import('esbuild');
    const dir = mkdtempSync(join(tmpdir(), 'moec-tfjs-'));
    const entry = join(dir, 'entry.mjs');
    writeFileSync(entry, "export * from '@tensorflow/tfjs-core';\nimport '@tensorflow/tfjs-core/dist/register_all_gradients';\nimport '@tensorflow/tfjs-backend-webgpu';\n");
    const bundle = join(dir, 'tf.mjs');
    await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', mainFields: ['module', 'main'], outfile: bundle, banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" }, nodePaths: [join(process.cwd(), 'node_modules')], logLevel: 'silent' });
    const tf = (await import(pathToFileURL(bundle).href)) as Tf;
    await tf.setBackend('webgpu');
    await tf.ready();
    return tf;
  })();
  return tfPromise;
}

export interface TfLayerShape {
  readonly tokens: number;
  readonly width: number;
  readonly experts: number;
  readonly hidden: number;
  readonly topK: number;
}

export async function timeTfLayer(gpu: Gpu, s: TfLayerShape, runs = 5): Promise<{ forward: Timing; train: Timing }> {
  const tf = await loadTf(gpu);
  const rng = new Rng(5);
  const randn = (shape: number[], scale: number) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale), shape);
  const x = randn([s.tokens, s.width], 1);
  const wr = randn([s.width, s.experts], 1 / Math.sqrt(s.width));
  const up = Array.from({ length: s.experts }, () => randn([s.width, s.hidden], 1 / Math.sqrt(s.width)));
  const down = Array.from({ length: s.experts }, () => randn([s.hidden, s.width], 1 / Math.sqrt(s.hidden)));
  const dy = randn([s.tokens, s.width], 1);

  /** Routing on the host-visible side: which assignment rows go to which expert (one readback). */
  const route = async (xv: import('@tensorflow/tfjs-core').Tensor2D) => {
    const probs = tf.softmax(tf.matMul(xv, wr)) as import('@tensorflow/tfjs-core').Tensor2D;
    const { indices } = tf.topk(probs, s.topK);
    const idx = (await indices.data()) as Int32Array;
    const perExpert: number[][] = Array.from({ length: s.experts }, () => []);
    idx.forEach((e, a) => perExpert[e]!.push(a));
    indices.dispose();
    return { probs, idx, perExpert };
  };

  const layer = (xv: import('@tensorflow/tfjs-core').Tensor2D, probs: import('@tensorflow/tfjs-core').Tensor2D, idx: Int32Array, perExpert: number[][], ups: import('@tensorflow/tfjs-core').Tensor2D[], downs: import('@tensorflow/tfjs-core').Tensor2D[]) => {
    const outs: import('@tensorflow/tfjs-core').Tensor2D[] = [];
    const rows: number[] = [];
    for (let e = 0; e < s.experts; e++) {
      const assignments = perExpert[e]!;
      if (!assignments.length) continue;
      const tokens = tf.tensor1d(assignments.map((a) => Math.floor(a / s.topK)), 'int32');
      const gates = tf.gather(tf.reshape(probs, [-1]), tf.tensor1d(assignments.map((a) => Math.floor(a / s.topK) * s.experts + idx[a]!), 'int32'));
      const h = tf.relu(tf.matMul(tf.gather(xv, tokens), ups[e]!));
      outs.push(tf.mul(tf.matMul(h, downs[e]!), tf.expandDims(gates, 1)) as import('@tensorflow/tfjs-core').Tensor2D);
      rows.push(...assignments.map((a) => Math.floor(a / s.topK)));
    }
    return tf.unsortedSegmentSum(tf.concat(outs, 0), tf.tensor1d(rows, 'int32'), s.tokens) as import('@tensorflow/tfjs-core').Tensor2D;
  };

  const forward = await time(async () => {
    const y = tf.tidy(() => x as import('@tensorflow/tfjs-core').Tensor2D);
    const { probs, idx, perExpert } = await route(y);
    const out = tf.tidy(() => layer(y, probs, idx, perExpert, up as never, down as never));
    await out.data();
    out.dispose();
    probs.dispose();
  }, runs);

  const train = await time(async () => {
    const { probs, idx, perExpert } = await route(x as import('@tensorflow/tfjs-core').Tensor2D);
    probs.dispose();
    const grads = tf.grads((xv, wrv, ...ws) => {
      const p = tf.softmax(tf.matMul(xv as import('@tensorflow/tfjs-core').Tensor2D, wrv as import('@tensorflow/tfjs-core').Tensor2D)) as import('@tensorflow/tfjs-core').Tensor2D;
      const y = layer(xv as import('@tensorflow/tfjs-core').Tensor2D, p, idx, perExpert, ws.slice(0, s.experts) as never, ws.slice(s.experts) as never);
      return tf.sum(tf.mul(y, dy));
    });
    const gs = grads([x, wr, ...up, ...down]);
    await Promise.all(gs.map((g) => g.data()));
    gs.forEach((g) => g.dispose());
  }, runs);
  return { forward, train };
}
