/**
 * The attention ops of docs/IR.md: rotary (RoPE on the q and k columns of a
 * fused qkv tensor) and causal multi-head attention over that tensor.
 * Columns of qkv [N, 3d]: q in [0, d), k in [d, 2d), v in [2d, 3d); head h
 * owns columns [h·D, (h+1)·D) of each part, D = d / heads.
 */
import type { Graph, OpOf } from '../../../compiler/ir.ts';
import { softmax, softmaxBackward } from '../softmax.ts';
import type { RefGrads, RefValues } from '../values.ts';
import { OpContext, type OpTable } from './context.ts';

// ---------------------------------------------------------------- rotary

interface RotaryShape {
  readonly N: number;
  readonly d: number;
  readonly heads: number;
  readonly D: number;
  readonly seq: number;
  readonly base: number;
}

function rotaryShape(ctx: OpContext): RotaryShape {
  const [N, cols] = ctx.inDims('x', 2);
  ctx.check(cols % 3 === 0, `x must be [N, 3d], has ${cols} columns`);
  const d = cols / 3;
  const heads = ctx.int('heads');
  ctx.check(heads >= 1 && d % heads === 0, `heads ${heads} must divide d = ${d}`);
  const D = d / heads;
  ctx.check(D % 2 === 0, `the head size ${D} must be even to rotate pairs`);
  const seq = ctx.int('seq');
  ctx.check(seq >= 1, 'seq must be at least 1');
  return { N, d, heads, D, seq, base: ctx.num('base') };
}

/**
 * Calls `visit(c0, θ)` for every rotated pair of row t: columns (c0, c0 + 1)
 * of q and of k for each head, θ = s·base^(−2i/D) for pair i at position s = t mod seq.
 */
function forEachPair(shape: RotaryShape, t: number, visit: (c0: number, theta: number) => void): void {
  const s = t % shape.seq;
  for (const part of [0, shape.d]) {
    for (let h = 0; h < shape.heads; h++) {
      for (let i = 0; i < shape.D / 2; i++) {
        visit(part + h * shape.D + 2 * i, s * Math.pow(shape.base, (-2 * i) / shape.D));
      }
    }
  }
}

/** (a, b) → (a cosθ − b sinθ, a sinθ + b cosθ) on q and k pairs; v copied. */
function rotaryForward(op: OpOf<'rotary'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const shape = rotaryShape(ctx);
  const x = ctx.f64('x');
  const y = ctx.outF64('y', [shape.N, 3 * shape.d]);
  y.set(x); // v (and nothing else) is left as copied
  const w = 3 * shape.d;
  for (let t = 0; t < shape.N; t++) {
    forEachPair(shape, t, (c0, theta) => {
      const a = x[t * w + c0];
      const b = x[t * w + c0 + 1];
      y[t * w + c0] = a * Math.cos(theta) - b * Math.sin(theta);
      y[t * w + c0 + 1] = a * Math.sin(theta) + b * Math.cos(theta);
    });
  }
}

/** dx += dy rotated by −θ on q and k pairs; dx += dy on v. */
function rotaryBackward(op: OpOf<'rotary'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const shape = rotaryShape(ctx);
  const dy = ctx.dy('y');
  const dx = ctx.dx('x');
  if (!dx) return;
  const w = 3 * shape.d;
  // Start from dy everywhere (right for v), then replace each rotated pair's share.
  const back = Float64Array.from(dy);
  for (let t = 0; t < shape.N; t++) {
    forEachPair(shape, t, (c0, theta) => {
      const da = dy[t * w + c0];
      const db = dy[t * w + c0 + 1];
      back[t * w + c0] = da * Math.cos(theta) + db * Math.sin(theta);
      back[t * w + c0 + 1] = -da * Math.sin(theta) + db * Math.cos(theta);
    });
  }
  for (let i = 0; i < back.length; i++) dx[i] += back[i];
}

// ---------------------------------------------------------------- attention

interface AttentionShape {
  readonly N: number;
  readonly batch: number;
  readonly seq: number;
  readonly heads: number;
  readonly d: number;
  readonly D: number;
}

function attentionShape(ctx: OpContext): AttentionShape {
  const [N, cols] = ctx.inDims('qkv', 2);
  ctx.check(cols % 3 === 0, `qkv must be [N, 3d], has ${cols} columns`);
  const d = cols / 3;
  const batch = ctx.int('batch');
  const seq = ctx.int('seq');
  const heads = ctx.int('heads');
  ctx.check(batch * seq === N, `batch ${batch} × seq ${seq} must equal the ${N} rows`);
  ctx.check(heads >= 1 && d % heads === 0, `heads ${heads} must divide d = ${d}`);
  return { N, batch, seq, heads, d, D: d / heads };
}

/** The causal attention probabilities of query i (over keys 0..i) of sequence b, head h. */
function probabilities(qkv: Float64Array, shape: AttentionShape, b: number, h: number, i: number): Float64Array {
  const { seq, d, D } = shape;
  const w = 3 * d;
  const scale = 1 / Math.sqrt(D);
  const qi = (b * seq + i) * w + h * D;
  const scores = new Float64Array(i + 1);
  for (let j = 0; j <= i; j++) {
    const kj = (b * seq + j) * w + d + h * D;
    let s = 0;
    for (let c = 0; c < D; c++) s += qkv[qi + c] * qkv[kj + c];
    scores[j] = s * scale;
  }
  return softmax(scores);
}

/** y_i = Σ_{j ≤ i} softmax_j(q_i·k_j / √D) v_j per sequence and head. */
function attentionForward(op: OpOf<'attention'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const shape = attentionShape(ctx);
  const { batch, seq, heads, d, D } = shape;
  const qkv = ctx.f64('qkv');
  const y = ctx.outF64('y', [shape.N, d]);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < seq; i++) {
        const P = probabilities(qkv, shape, b, h, i);
        const yi = (b * seq + i) * d + h * D;
        for (let j = 0; j <= i; j++) {
          const vj = (b * seq + j) * 3 * d + 2 * d + h * D;
          for (let c = 0; c < D; c++) y[yi + c] += P[j] * qkv[vj + c];
        }
      }
    }
  }
}

/**
 * dP_ij = dy_i·v_j; dS_i = P_i ⊙ (dP_i − Σ_j P_ij dP_ij);
 * dq_i += Σ_j dS_ij k_j / √D; dk_j += Σ_i dS_ij q_i / √D; dv_j += Σ_i P_ij dy_i.
 */
function attentionBackward(op: OpOf<'attention'>, graph: Graph, values: RefValues, grads: RefGrads): void {
  const ctx = new OpContext(op, graph, values, grads);
  const shape = attentionShape(ctx);
  const { batch, seq, heads, d, D } = shape;
  const qkv = ctx.f64('qkv');
  const dy = ctx.dy('y');
  const dqkv = ctx.dx('qkv');
  if (!dqkv) return;
  const w = 3 * d;
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < seq; i++) {
        const P = probabilities(qkv, shape, b, h, i);
        const yi = (b * seq + i) * d + h * D;
        const qi = (b * seq + i) * w + h * D;
        const dP = new Float64Array(i + 1);
        for (let j = 0; j <= i; j++) {
          const vj = (b * seq + j) * w + 2 * d + h * D;
          for (let c = 0; c < D; c++) {
            dP[j] += dy[yi + c] * qkv[vj + c];
            dqkv[vj + c] += P[j] * dy[yi + c];
          }
        }
        const dS = softmaxBackward(P, dP);
        for (let j = 0; j <= i; j++) {
          const kj = (b * seq + j) * w + d + h * D;
          for (let c = 0; c < D; c++) {
            dqkv[qi + c] += dS[j] * qkv[kj + c] * scale;
            dqkv[kj + c] += dS[j] * qkv[qi + c] * scale;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- decode_attention

/**
 * One new token per sequence: rotate its q and k to its position (when the
 * model uses rotary positions), append k and v to the caches, and attend
 * over the cached rows 0..p, exactly as `attention` does for row p.
 */
function decodeAttentionForward(op: OpOf<'decode_attention'>, graph: Graph, values: RefValues): void {
  const ctx = new OpContext(op, graph, values);
  const [B, cols] = ctx.inDims('qkv', 2);
  const d = cols / 3;
  const heads = ctx.int('heads');
  const S = ctx.int('context');
  const base = ctx.num('rotary_base');
  const D = d / heads;
  const qkv = Float64Array.from(ctx.f64('qkv'));
  const positions = ctx.i32('positions');
  const keys = ctx.currentF64('keys');
  const vals = ctx.currentF64('values');
  const y = ctx.outF64('y', [B, d]);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    const p = positions[b]!;
    ctx.check(p >= 0 && p < S, `position ${p} of sequence ${b} is outside the cache of ${S}`);
    const row = qkv.subarray(b * cols, (b + 1) * cols);
    if (base > 0) {
      const shape: RotaryShape = { N: 1, d, heads, D, seq: S, base };
      forEachPair(shape, p, (c0, theta) => {
        const [a, c] = [row[c0]!, row[c0 + 1]!];
        row[c0] = a * Math.cos(theta) - c * Math.sin(theta);
        row[c0 + 1] = a * Math.sin(theta) + c * Math.cos(theta);
      });
    }
    keys.set(row.subarray(d, 2 * d), (b * S + p) * d);
    vals.set(row.subarray(2 * d, 3 * d), (b * S + p) * d);
    for (let h = 0; h < heads; h++) {
      const scores = new Float64Array(p + 1);
      for (let j = 0; j <= p; j++) {
        let dot = 0;
        for (let c = 0; c < D; c++) dot += row[h * D + c]! * keys[(b * S + j) * d + h * D + c]!;
        scores[j] = dot * scale;
      }
      const P = softmax(scores);
      for (let j = 0; j <= p; j++) for (let c = 0; c < D; c++) y[b * d + h * D + c] += P[j]! * vals[(b * S + j) * d + h * D + c]!;
    }
  }
}

/** The attention ops, keyed by kind. */
export const ATTENTION_OPS: OpTable<'rotary' | 'attention' | 'decode_attention'> = {
  rotary: { forward: rotaryForward, backward: rotaryBackward },
  attention: { forward: attentionForward, backward: attentionBackward },
  decode_attention: {
    forward: decodeAttentionForward,
    backward: (op) => {
      throw new Error(`reference: ${op.name}: decode_attention is inference only (sampling); it has no backward`);
    },
  },
};
