/**
 * Optimizer kernels: the global gradient norm (one deterministic partial sum
 * per parameter, then one total), the clipping scale, and one AdamW or SGD
 * update per parameter. The step's learning rate and bias corrections come
 * from a small `train/state` buffer the host writes before each step; the
 * norm and clip scale are written there by the GPU, so a step has no host
 * round trip. A non-finite norm makes every update a no-op (the host sees it
 * in the metrics and stops with the last good checkpoint intact).
 */
import type { Op, Tensor } from '../../compiler/ir.ts';
import { numel } from '../../compiler/ir.ts';
import type { OptimizerSpec } from '../../compiler/spec.ts';
import { gradName, type BufferDecl, type Kernel, type Target } from './kernel.ts';
import { KernelWriter, f32, type OpContext } from './kernel_writer.ts';
import { REDUCE_WG, writeReduce } from './ops/routing.ts';
import { STATE, STATE_BUFFER } from './train_state.ts';

export const NORM_PARTIALS = 'train/norm_partials';

/** Whether decoupled weight decay applies: matrices, except IA3 scales (initialised to ones). */
export function decays(t: Tensor): boolean {
  return t.shape.length >= 2 && !t.name.includes('.ia3.');
}

/** Kernels and buffers of one optimizer step over `params`. */
export interface OptimizerKernels {
  readonly buffers: readonly BufferDecl[];
  /** One partial sum of squares per parameter, then the total, norm and clip scale. */
  readonly norm: readonly Kernel[];
  /** One update per parameter. */
  readonly update: readonly Kernel[];
}

/** A context for kernels that belong to no IR op. */
function pseudoContext(name: string, target: Target, specPath: string, buffers: Map<string, BufferDecl>): OpContext {
  // Optimizer kernels belong to no IR op; KernelWriter reads only the name, kind, attrs and origin of this stand-in.
  const op = { name, kind: 'add', inputs: {}, outputs: {}, attrs: {}, origin: { line: 0, text: '' } } as unknown as Op;
  const add = (b: BufferDecl) => {
    if (!buffers.has(b.name)) buffers.set(b.name, b);
    return b.name;
  };
  return {
    op,
    target,
    specPath,
    shape: () => [],
    needsGrad: () => false,
    training: true,
    seed: 0,
    tensor: (n) => n,
    grad: (n) => gradName(n),
    saved: (s, e, dtype = 'f32') => add({ name: `${name}/${s}`, elements: e, dtype, kind: 'saved' }),
    scratch: (s, e, dtype = 'f32') => add({ name: `${name}/${s}`, elements: e, dtype, kind: 'scratch' }),
    constant: (s, data) => add({ name: `${name}/${s}`, elements: data.length, dtype: 'f32', kind: 'constant', data }),
  };
}

/** WGSL: true when x is NaN or ±Inf (by its bits: float compares may assume finite values). */
const NON_FINITE = 'fn non_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }';

export function optimizerKernels(params: readonly Tensor[], opt: OptimizerSpec, clip: number, target: Target, specPath: string): OptimizerKernels {
  const buffers = new Map<string, BufferDecl>();
  buffers.set(STATE_BUFFER, { name: STATE_BUFFER, elements: STATE.size, dtype: 'f32', kind: 'saved' });
  buffers.set(NORM_PARTIALS, { name: NORM_PARTIALS, elements: Math.max(1, params.length), dtype: 'f32', kind: 'scratch' });
  const norm: Kernel[] = [];
  params.forEach((p, i) => {
    const n = numel(p.shape);
    const w = new KernelWriter(pseudoContext(`optimizer.${p.name}`, target, specPath, buffers), 'grad_square_sum', 'backward');
    w.bind('grad', gradName(p.name), 'read');
    w.bind('partials', NORM_PARTIALS, 'read_write');
    writeReduce(w, n, (k) => `grad[${k}] * grad[${k}]`, (sum) => [`partials[${i}] = ${sum};`]);
    norm.push(w.finishSingle(REDUCE_WG));
  });
  const total = new KernelWriter(pseudoContext('optimizer', target, specPath, buffers), 'clip_scale', 'backward');
  total.bind('partials', NORM_PARTIALS, 'read');
  total.bind('state', STATE_BUFFER, 'read_write');
  total.declare(NON_FINITE);
  total.body(
    'if (lid != 0u) { return; }',
    'var sum = 0.0;',
    `for (var i = 0u; i < ${params.length}u; i++) { sum += partials[i]; }`,
    'let norm = sqrt(sum);',
    `state[${STATE.gradNorm}] = norm;`,
    'let bad = non_finite(norm);',
    `state[${STATE.skipped}] = select(0.0, 1.0, bad);`,
    clip > 0 ? `state[${STATE.clipScale}] = select(min(1.0, ${f32(clip)} / (norm + 1e-6)), 0.0, bad);` : `state[${STATE.clipScale}] = select(1.0, 0.0, bad);`,
  );
  norm.push(total.finishSingle(1));

  const update: Kernel[] = [];
  for (const p of params) {
    const n = numel(p.shape);
    const ctx = pseudoContext(`optimizer.${p.name}`, target, specPath, buffers);
    const wd = decays(p) ? opt.weightDecay : 0;
    const w = new KernelWriter(ctx, opt.kind === 'adamw' ? 'adamw_update' : 'sgd_update', 'backward');
    w.bind('param', p.name, 'read_write');
    w.bind('grad', gradName(p.name), 'read');
    w.bind('state', STATE_BUFFER, 'read');
    const m = ctx.saved(opt.kind === 'adamw' ? 'm' : 'momentum', n);
    w.bind('m', m, 'read_write');
    if (opt.kind === 'adamw') w.bind('v', ctx.saved('v', n), 'read_write');
    w.body(
      `if (state[${STATE.skipped}] != 0.0) { return; }`,
      `let lr = state[${STATE.lr}];`,
      `let g = grad[i] * state[${STATE.clipScale}];`,
      // Decoupled weight decay (Loshchilov & Hutter), applied before the gradient step as PyTorch does.
      wd > 0 ? `var p = param[i] * (1.0 - lr * ${f32(wd)});` : 'var p = param[i];',
    );
    if (opt.kind === 'adamw') {
      w.body(
        `let m1 = ${f32(opt.beta1)} * m[i] + ${f32(1 - opt.beta1)} * g;`,
        `let v1 = ${f32(opt.beta2)} * v[i] + ${f32(1 - opt.beta2)} * g * g;`,
        'm[i] = m1;',
        'v[i] = v1;',
        `let m_hat = m1 / state[${STATE.correction1}];`,
        `let v_hat = v1 / state[${STATE.correction2}];`,
        `p = p - lr * m_hat / (sqrt(v_hat) + ${f32(opt.eps)});`,
      );
    } else {
      w.body(`let b = ${f32(opt.momentum)} * m[i] + g;`, 'm[i] = b;', 'p = p - lr * b;');
    }
    w.body('param[i] = p;');
    update.push(w.finish1d(n));
  }
  return { buffers: [...buffers.values()], norm, update };
}
