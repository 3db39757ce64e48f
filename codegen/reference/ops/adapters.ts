/**
 * The lightweight-expert ops of docs/IR.md (Cohere MoV / MoLoRA): ia3_scale
 * (per-expert scaling vectors of the hidden units, mixed by the gates) and
 * lora_linear (a frozen linear plus gated per-expert low-rank updates).
 * Choices with token_expert −1 contribute nothing.
 */
import type { Graph, OpOf } from '../../../compiler/ir.ts';
import type { RefGrads, RefValues } from '../values.ts';
import { OpContext, type OpTable } from './context.ts';

/** token_expert / token_gate [N, K], checked against N tokens and E experts. */
function readChoices(ctx: OpContext, N: number, E: number): { K: number; experts: Int32Array; gates: Float64Array } {
  const [Nt, K] = ctx.inDims('token_expert', 2);
  ctx.check(Nt === N, `token_expert has ${Nt} rows, x has ${N}`);
  ctx.check(ctx.inShape('token_gate').join() === `${N},${K}`, `token_gate must be [${N}, ${K}]`);
  const experts = ctx.i32('token_expert');
  for (let i = 0; i < experts.length; i++) ctx.check(experts[i] >= -1 && experts[i] < E, `token_expert entry ${i} = ${experts[i]} is not an expert of ${E} or −1`);
  return { K, experts, gates: ctx.f64('token_gate') };
}

// ---------------------------------------------------------------- ia3_scale

function ia3Shape(ctx: OpContext) {
  const [N, H] = ctx.inDims('x', 2);
  const [E, Hs] = ctx.inDims('scale', 2);
  ctx.check(Hs === H, `scale must be [E, ${H}]`);
  return { N, H, ...readChoices(ctx, N, E) };
}

/** m[t] = Σ_{j: e_j ≥ 0} token_gate[t, j] · scale[e_j]. */
function mixedScale(scale: Float64Array, H: number, K: number, experts: Int32Array, gates: Float64Array, t: number): Float64Array {
  const m = new Float64Array(H);
  for (let j = 0; j < K; j++) {
    const e = experts[t * K + j];
    if (e < 0) continue;
    for (let h = 0; h < H; h++) m[h] += gates[t * K + j] * scale[e * H + h];
  }
  return m;
}

/** y[t] = x[t] ⊙ m[t]. */
function ia3Forward(op: OpOf<'ia3_scale'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, H, K, experts, gates } = ia3Shape(ctx);
  const x = ctx.f64('x');
  const scale = ctx.f64('scale');
  const y = ctx.outF64('y', [N, H]);
  for (let t = 0; t < N; t++) {
    const m = mixedScale(scale, H, K, experts, gates, t);
    for (let h = 0; h < H; h++) y[t * H + h] = x[t * H + h] * m[h];
  }
}

/** dx += dy ⊙ m; dscale[e_j] += token_gate[t, j]·(dy[t] ⊙ x[t]); dtoken_gate[t, j] += scale[e_j]·(dy[t] ⊙ x[t]). */
function ia3Backward(op: OpOf<'ia3_scale'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, H, K, experts, gates } = ia3Shape(ctx);
  const x = ctx.f64('x');
  const scale = ctx.f64('scale');
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  const dscale = ctx.dx('scale');
  const dgate = ctx.dx('token_gate');
  for (let t = 0; t < N; t++) {
    if (dx) {
      const m = mixedScale(scale, H, K, experts, gates, t);
      for (let h = 0; h < H; h++) dx[t * H + h] += dy[t * H + h] * m[h];
    }
    for (let j = 0; j < K; j++) {
      const e = experts[t * K + j];
      if (e < 0) continue;
      for (let h = 0; h < H; h++) {
        const dyx = dy[t * H + h] * x[t * H + h];
        if (dscale) dscale[e * H + h] += gates[t * K + j] * dyx;
        if (dgate) dgate[t * K + j] += scale[e * H + h] * dyx;
      }
    }
  }
}

// ---------------------------------------------------------------- lora_linear

function loraShape(ctx: OpContext) {
  const [N, I] = ctx.inDims('x', 2);
  const [O, Iw] = ctx.inDims('weight', 2);
  ctx.check(Iw === I, `weight [${O}, ${Iw}] does not take x rows of ${I}`);
  const [E, r, Ia] = ctx.inDims('lora_a', 3);
  ctx.check(Ia === I, `lora_a must be [E, r, ${I}]`);
  ctx.check(ctx.inShape('lora_b').join() === `${E},${O},${r}`, `lora_b must be [${E}, ${O}, ${r}]`);
  return { N, I, O, E, r, scale: ctx.num('scale'), ...readChoices(ctx, N, E) };
}

/** u = lora_a[e] · x[t] (r values). */
function loraDown(a: Float64Array, e: number, r: number, I: number, x: Float64Array, t: number): Float64Array {
  const u = new Float64Array(r);
  for (let q = 0; q < r; q++) {
    for (let i = 0; i < I; i++) u[q] += a[(e * r + q) * I + i] * x[t * I + i];
  }
  return u;
}

/** y[t] = weight·x[t] + scale · Σ_{j: e_j ≥ 0} token_gate[t, j] · lora_b[e_j] · (lora_a[e_j] · x[t]). */
function loraForward(op: OpOf<'lora_linear'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const { N, I, O, r, scale, K, experts, gates } = loraShape(ctx);
  const x = ctx.f64('x');
  const w = ctx.f64('weight');
  const a = ctx.f64('lora_a');
  const b = ctx.f64('lora_b');
  const y = ctx.outF64('y', [N, O]);
  for (let t = 0; t < N; t++) {
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let i = 0; i < I; i++) s += w[o * I + i] * x[t * I + i];
      y[t * O + o] = s;
    }
    for (let j = 0; j < K; j++) {
      const e = experts[t * K + j];
      if (e < 0) continue;
      const u = loraDown(a, e, r, I, x, t);
      for (let o = 0; o < O; o++) {
        let bu = 0;
        for (let q = 0; q < r; q++) bu += b[(e * O + o) * r + q] * u[q];
        y[t * O + o] += scale * gates[t * K + j] * bu;
      }
    }
  }
}

/**
 * dx += dy·weight + scale Σ_j g_j · lora_a[e_j]ᵀ (lora_b[e_j]ᵀ dy);
 * dlora_b[e_j] += scale·g_j·dy ⊗ u_j; dlora_a[e_j] += scale·g_j·(lora_b[e_j]ᵀ dy) ⊗ x;
 * dtoken_gate[t, j] += scale·dy·(lora_b[e_j] u_j); dweight += dyᵀ·x only if the
 * weight is not frozen (lowering always freezes it).
 */
function loraBackward(op: OpOf<'lora_linear'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const { N, I, O, r, scale, K, experts, gates } = loraShape(ctx);
  const x = ctx.f64('x');
  const w = ctx.f64('weight');
  const a = ctx.f64('lora_a');
  const b = ctx.f64('lora_b');
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  const dw = ctx.dx('weight');
  const da = ctx.dx('lora_a');
  const db = ctx.dx('lora_b');
  const dgate = ctx.dx('token_gate');
  for (let t = 0; t < N; t++) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        if (dx) dx[t * I + i] += dy[t * O + o] * w[o * I + i];
        if (dw) dw[o * I + i] += dy[t * O + o] * x[t * I + i];
      }
    }
    for (let j = 0; j < K; j++) {
      const e = experts[t * K + j];
      if (e < 0) continue;
      const g = gates[t * K + j];
      const u = loraDown(a, e, r, I, x, t);
      // v = lora_b[e]ᵀ dy (r values); dgate = scale · Σ_q v_q u_q = scale · dy·(lora_b[e] u).
      const v = new Float64Array(r);
      for (let q = 0; q < r; q++) {
        for (let o = 0; o < O; o++) v[q] += b[(e * O + o) * r + q] * dy[t * O + o];
      }
      for (let q = 0; q < r; q++) {
        if (dgate) dgate[t * K + j] += scale * v[q] * u[q];
        if (db) for (let o = 0; o < O; o++) db[(e * O + o) * r + q] += scale * g * dy[t * O + o] * u[q];
        for (let i = 0; i < I; i++) {
          if (dx) dx[t * I + i] += scale * g * a[(e * r + q) * I + i] * v[q];
          if (da) da[(e * r + q) * I + i] += scale * g * v[q] * x[t * I + i];
        }
      }
    }
  }
}

/** The adapter ops, keyed by kind. */
export const ADAPTER_OPS: OpTable<'ia3_scale' | 'lora_linear'> = {
  ia3_scale: { forward: ia3Forward, backward: ia3Backward },
  lora_linear: { forward: loraForward, backward: loraBackward },
};
