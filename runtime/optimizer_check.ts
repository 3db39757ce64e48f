/**
 * Proves the optimizer kernels (gradient norm, clip scale, AdamW or SGD
 * update) against a Float64 implementation of docs/MODEL.md's formulas, on
 * parameters of odd sizes, for `moec test`.
 */
import type { Tensor } from '../compiler/ir.ts';
import type { ModelSpec } from '../compiler/spec.ts';
import { gradName } from '../codegen/wgsl/kernel.ts';
import { decays, optimizerKernels } from '../codegen/wgsl/optimizer.ts';
import { STATE, STATE_BUFFER } from '../codegen/wgsl/train_state.ts';
import { Executor } from './executor.ts';
import type { Gpu } from './gpu.ts';
import { BACKWARD_TOLERANCE, FORWARD_TOLERANCE, compare, type CheckRow } from './kernel_check.ts';
import { Rng } from './rng.ts';

const SHAPES: readonly (readonly number[])[] = [[37], [5, 13], [3, 4, 7]];

export async function checkOptimizer(gpu: Gpu, spec: ModelSpec, seed: number): Promise<CheckRow[]> {
  const o = spec.train.optimizer;
  const clip = spec.train.clip;
  const params: Tensor[] = SHAPES.map((shape, i) => ({ name: `p${i}`, shape, dtype: 'f32', role: 'param' }));
  const k = optimizerKernels(params, o, clip, gpu.limits, spec.source.path);
  const ex = new Executor(gpu, spec.source.path);
  const rows: CheckRow[] = [];
  try {
    const decls = [...k.buffers, ...params.flatMap((p) => [p.name, gradName(p.name)].map((name) => ({ name, elements: p.shape.reduce((a, b) => a * b, 1), dtype: 'f32' as const, kind: 'tensor' as const })))];
    await ex.allocate(decls);
    const rng = Rng.forName(seed, 'optimizer');
    const host = new Map<string, Float64Array>();
    const fill = (name: string, n: number, scale: number, positive = false) => {
      const v = Float32Array.from({ length: n }, () => (positive ? Math.abs(rng.normal()) : rng.normal()) * scale);
      ex.write(name, v);
      host.set(name, Float64Array.from(v));
    };
    for (const p of params) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      fill(p.name, n, 0.5);
      fill(gradName(p.name), n, 2); // large enough that clipping (if on) bites
      fill(`optimizer.${p.name}/${o.kind === 'adamw' ? 'm' : 'momentum'}`, n, 0.1);
      if (o.kind === 'adamw') fill(`optimizer.${p.name}/v`, n, 0.01, true);
    }
    const step = 7;
    const state = new Float32Array(STATE.size);
    state[STATE.lr] = o.lr;
    state[STATE.correction1] = 1 - Math.pow(o.beta1, step);
    state[STATE.correction2] = 1 - Math.pow(o.beta2, step);
    ex.write(STATE_BUFFER, state);
    await ex.run([...k.norm, ...k.update]);

    // Float64 reference of the same step.
    let sq = 0;
    for (const p of params) for (const g of host.get(gradName(p.name))!) sq += g * g;
    const norm = Math.sqrt(sq);
    const scale = clip > 0 ? Math.min(1, clip / (norm + 1e-6)) : 1;
    const gotState = (await ex.read(STATE_BUFFER)) as Float32Array;
    const c = compare([gotState[STATE.gradNorm]!, gotState[STATE.clipScale]!], [norm, scale]);
    rows.push({ scenario: 'optimizer', op: 'optimizer', kernels: 'grad_square_sum+clip_scale', pass: 'backward', tensor: 'gradient norm, clip scale', shape: '[2]', maxAbs: c.maxAbs, maxRel: c.maxRel, tolerance: FORWARD_TOLERANCE, ok: c.maxRel <= FORWARD_TOLERANCE });
    for (const p of params) {
      const w = Float64Array.from(host.get(p.name)!);
      const g = host.get(gradName(p.name))!;
      const mName = `optimizer.${p.name}/${o.kind === 'adamw' ? 'm' : 'momentum'}`;
      const m = Float64Array.from(host.get(mName)!);
      const v = o.kind === 'adamw' ? Float64Array.from(host.get(`optimizer.${p.name}/v`)!) : undefined;
      const wd = decays(p) ? o.weightDecay : 0;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]! * scale;
        let wi = w[i]! * (1 - o.lr * wd);
        if (v) {
          m[i] = o.beta1 * m[i]! + (1 - o.beta1) * gi;
          v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
          wi -= (o.lr * (m[i]! / state[STATE.correction1]!)) / (Math.sqrt(v[i]! / state[STATE.correction2]!) + o.eps);
        } else {
          m[i] = o.momentum * m[i]! + gi;
          wi -= o.lr * m[i]!;
        }
        w[i] = wi;
      }
      for (const [name, ref] of [[p.name, w], [mName, m], ...(v ? [[`optimizer.${p.name}/v`, v]] : [])] as [string, Float64Array][]) {
        const got = await ex.read(name);
        const r = compare(got, ref);
        rows.push({ scenario: 'optimizer', op: `optimizer.${p.name}`, kernels: `${o.kind}_update`, pass: 'backward', tensor: name, shape: `[${p.shape.join('x')}]`, maxAbs: r.maxAbs, maxRel: r.maxRel, tolerance: BACKWARD_TOLERANCE, ok: r.maxRel <= BACKWARD_TOLERANCE });
      }
    }
    return rows;
  } finally {
    ex.destroy();
  }
}
