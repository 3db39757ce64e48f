/**
 * One feed-forward expert applied to one row, forward and backward, shared by
 * `ffn` (dense and shared experts: a sum over K FFNs) and `expert_ffn`
 * (routed experts: one FFN per row). Weights use the IR layout:
 * `up [K, H, d]`, `gate [K, H, d]` (swiglu only), `down [K, d, H]`, so
 * up_k[j, i] = up[(k·H + j)·d + i] and down_k[i, j] = down[(k·d + i)·H + j].
 */
import { activationBackward, activationName, applyActivation, isGated, type ActivationName } from '../activations.ts';
import type { OpOf } from '../../../compiler/ir.ts';
import type { OpContext } from './context.ts';

/** The weights of K FFNs of width d and hidden size H. */
export interface FfnWeights {
  readonly up: Float64Array;
  readonly gate: Float64Array | null;
  readonly down: Float64Array;
  readonly width: number;
  readonly hidden: number;
  readonly activation: ActivationName;
}

/** Where backward adds the weight gradients (null: that weight takes none, e.g. frozen). */
export interface FfnWeightGrads {
  readonly up: Float64Array | null;
  readonly gate: Float64Array | null;
  readonly down: Float64Array | null;
}

/** A row of a row-major matrix: the array and the index of its first element. */
export interface Row {
  readonly data: Float64Array;
  readonly offset: number;
}

/**
 * Reads the `up`, `gate`, `down` inputs and the `activation` attribute of an
 * ffn / expert_ffn op, checking their shapes against each other: a gate
 * weight exactly when the activation is swiglu, and K = `experts` when given.
 */
export function readFfnWeights(ctx: OpContext<OpOf<'ffn'> | OpOf<'expert_ffn'>>): FfnWeights & { readonly experts: number } {
  const activation = activationName(ctx.op.attrs.activation, ctx.op.name);
  ctx.check(ctx.hasInput('gate') === isGated(activation), `a gate weight goes with swiglu only (activation ${activation})`);
  const [K, H, d] = ctx.inDims('up', 3);
  const down = ctx.inDims('down', 3);
  ctx.check(down[0] === K && down[1] === d && down[2] === H, `down must be [${K}, ${d}, ${H}]`);
  if (ctx.hasInput('gate')) ctx.check(ctx.inShape('gate').join() === ctx.inShape('up').join(), 'gate must have the shape of up');
  return { up: ctx.f64('up'), gate: ctx.hasInput('gate') ? ctx.f64('gate') : null, down: ctx.f64('down'), width: d, hidden: H, activation, experts: K };
}

/** The gradient buffers of an ffn / expert_ffn op's weights (backward only). */
export function ffnWeightGrads(ctx: OpContext): FfnWeightGrads {
  return { up: ctx.dx('up'), gate: ctx.dx('gate'), down: ctx.dx('down') };
}

/** The pre-activations up_k·x and gate_k·x (H values each; gate zeros when ungated). */
function preActivations(w: FfnWeights, k: number, x: Row): { up: Float64Array; gate: Float64Array } {
  const { width: d, hidden: H } = w;
  const up = new Float64Array(H);
  const gate = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    const base = (k * H + j) * d;
    let u = 0;
    let g = 0;
    for (let i = 0; i < d; i++) {
      const xi = x.data[x.offset + i];
      u += w.up[base + i] * xi;
      if (w.gate) g += w.gate[base + i] * xi;
    }
    up[j] = u;
    gate[j] = g;
  }
  return { up, gate };
}

/** out += down_k · act(up_k · x) (swiglu: act = silu(gate_k·x) ⊙ up_k·x). */
export function ffnRowForward(w: FfnWeights, k: number, x: Row, out: Row): void {
  const { width: d, hidden: H } = w;
  const pre = preActivations(w, k, x);
  const h = new Float64Array(H);
  for (let j = 0; j < H; j++) h[j] = applyActivation(w.activation, pre.up[j], pre.gate[j]);
  for (let i = 0; i < d; i++) {
    const base = (k * d + i) * H;
    let s = 0;
    for (let j = 0; j < H; j++) s += w.down[base + j] * h[j];
    out.data[out.offset + i] += s;
  }
}

/**
 * Backward of `ffnRowForward` given the row's upstream gradient `dy`:
 * dh = down_kᵀ·dy, through the activation to d(up_k·x) and d(gate_k·x), then
 * dx += up_kᵀ·dpre_up + gate_kᵀ·dpre_gate, dup_k += dpre_up ⊗ x,
 * dgate_k += dpre_gate ⊗ x, ddown_k += dy ⊗ h. `dx` null: no input gradient.
 */
export function ffnRowBackward(w: FfnWeights, k: number, x: Row, dy: Row, dx: Row | null, grads: FfnWeightGrads): void {
  const { width: d, hidden: H } = w;
  const pre = preActivations(w, k, x);
  const dUpPre = new Float64Array(H);
  const dGatePre = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    // dh_j = Σ_i down_k[i, j]·dy_i; and h_j for the down-weight gradient.
    let dh = 0;
    for (let i = 0; i < d; i++) dh += w.down[(k * d + i) * H + j] * dy.data[dy.offset + i];
    const back = activationBackward(w.activation, pre.up[j], pre.gate[j], dh);
    dUpPre[j] = back.dUp;
    dGatePre[j] = back.dGate;
    if (grads.down) {
      const h = applyActivation(w.activation, pre.up[j], pre.gate[j]);
      for (let i = 0; i < d; i++) grads.down[(k * d + i) * H + j] += dy.data[dy.offset + i] * h;
    }
  }
  for (let j = 0; j < H; j++) {
    const base = (k * H + j) * d;
    for (let i = 0; i < d; i++) {
      const xi = x.data[x.offset + i];
      if (dx) dx.data[dx.offset + i] += w.up[base + i] * dUpPre[j] + (w.gate ? w.gate[base + i] * dGatePre[j] : 0);
      if (grads.up) grads.up[base + i] += dUpPre[j] * xi;
      if (grads.gate) grads.gate[base + i] += dGatePre[j] * xi;
    }
  }
}
