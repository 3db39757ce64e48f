/**
 * Lowers a checked ModelSpec to the IR: a decoder-only transformer language
 * model (embedding, positions, pre-norm blocks of attention and a dense or MoE
 * feed-forward layer, final norm, LM head, cross-entropy), or one MoE layer
 * on its own for `moec layer` and `moec test`.
 */
import { GraphBuilder } from './graph_builder.ts';
import type { Graph } from './ir.ts';
import { expertWeights, lowerMoeLayer, type LowerOptions } from './lower_moe.ts';
import { moeBlocks, moeLayerOf, type ModelSpec, type Origin } from './spec.ts';

/** Batch and sequence length the graph is lowered for (default: the spec's training shape). */
export interface LowerShape {
  readonly batch: number;
  readonly seq: number;
}

/** The training shape of a spec: its batch and context. */
export function trainShape(spec: ModelSpec): LowerShape {
  return { batch: spec.train.batch, seq: spec.context };
}

/** Lowers the whole language model. */
export function lowerModel(spec: ModelSpec, shape: LowerShape = trainShape(spec), options: LowerOptions = {}): Graph {
  const g = new GraphBuilder();
  const { batch, seq } = shape;
  const N = batch * seq;
  const d = spec.width;
  const std = 0.02;
  const residualStd = 0.02 / Math.sqrt(2 * spec.depth);
  const modelOrigin = origin(spec, 'model');

  const ids = g.tensor('tokens', [N], 'i32', 'input');
  const targets = g.tensor('targets', [N], 'i32', 'input');
  const embed = g.tensor('embed.weight', [spec.vocab, d], 'f32', 'param', { kind: 'normal', std });
  let x = g.tensor('embedded', [N, d], 'f32', 'activation');
  g.op('embed', 'embed', { ids, table: embed }, { y: x }, {}, origin(spec, 'vocab'));
  if (spec.position === 'learned') {
    const pos = g.tensor('pos.weight', [spec.context, d], 'f32', 'param', { kind: 'normal', std });
    const y = g.tensor('positioned', [N, d], 'f32', 'activation');
    g.op('position_add', 'position', { x, table: pos }, { y }, { seq }, origin(spec, 'position'));
    x = y;
  }

  for (let b = 0; b < spec.depth; b++) {
    const p = `blocks.${b}.`;
    const attnIn = norm(g, spec, x, `${p}attn_norm`, N);
    const qkv = g.tensor(`${p}qkv`, [N, 3 * d], 'f32', 'activation');
    g.op('linear', `${p}attn.qkv`, { x: attnIn, weight: g.tensor(`${p}attn.qkv.weight`, [3 * d, d], 'f32', 'param', { kind: 'normal', std }) }, { y: qkv }, {}, origin(spec, 'heads'));
    let qkvPos = qkv;
    if (spec.position === 'rotary') {
      qkvPos = g.tensor(`${p}qkv_rotary`, [N, 3 * d], 'f32', 'activation');
      g.op('rotary', `${p}rotary`, { x: qkv }, { y: qkvPos }, { heads: spec.heads, seq, base: 10000 }, origin(spec, 'position'));
    }
    const attn = g.tensor(`${p}attn_heads`, [N, d], 'f32', 'activation');
    g.op('attention', `${p}attention`, { qkv: qkvPos }, { y: attn }, { batch, seq, heads: spec.heads }, origin(spec, 'heads'));
    const attnOut = g.tensor(`${p}attn_out`, [N, d], 'f32', 'activation');
    g.op('linear', `${p}attn.out`, { x: attn, weight: g.tensor(`${p}attn.out.weight`, [d, d], 'f32', 'param', { kind: 'normal', std: residualStd }) }, { y: attnOut }, {}, origin(spec, 'heads'));
    const afterAttn = g.tensor(`${p}resid_attn`, [N, d], 'f32', 'activation');
    g.op('add', `${p}residual_attn`, { a: x, b: attnOut }, { y: afterAttn }, {}, modelOrigin);

    x = ffnBlock(g, spec, b, afterAttn, shape, options);
  }

  const logits = lmHead(g, spec, x, embed, N);
  const loss = g.tensor('loss.cross_entropy', [1], 'f32', 'loss');
  g.op('cross_entropy', 'cross_entropy', { logits, targets }, { loss }, {}, modelOrigin);
  g.loss(loss);
  return g.build('model', spec.name, batch, seq, logits);
}

/**
 * Lowers one decoding step of the model for sampling with a key/value cache:
 * one new token for each of `batch` sequences (`tokens` [B] at `positions`
 * [B]), attending to its sequence's cached keys and values (state tensors
 * `blocks.i.attn.keys`/`values` [B·context, width], filled as tokens are
 * decoded). Parameters have the model's names, so a checkpoint loads as is;
 * MoE layers route the B new tokens together (`seq` 1). Forward only.
 */
export function lowerDecode(spec: ModelSpec, batch: number): Graph {
  const g = new GraphBuilder();
  const d = spec.width;
  const S = spec.context;
  const tokens = g.tensor('tokens', [batch], 'i32', 'input');
  const positions = g.tensor('positions', [batch], 'i32', 'input');
  const embed = g.tensor('embed.weight', [spec.vocab, d], 'f32', 'param', { kind: 'normal', std: 0.02 });
  let x = g.tensor('embedded', [batch, d], 'f32', 'activation');
  g.op('embed', 'embed', { ids: tokens, table: embed }, { y: x }, {}, origin(spec, 'vocab'));
  if (spec.position === 'learned') {
    // The learned table's row at each token's position, by the same lookup as the token embedding.
    const table = g.tensor('pos.weight', [S, d], 'f32', 'param', { kind: 'normal', std: 0.02 });
    const rows = g.tensor('position_rows', [batch, d], 'f32', 'activation');
    g.op('embed', 'position', { ids: positions, table }, { y: rows }, {}, origin(spec, 'position'));
    const y = g.tensor('positioned', [batch, d], 'f32', 'activation');
    g.op('add', 'position_add', { a: x, b: rows }, { y }, {}, origin(spec, 'position'));
    x = y;
  }
  for (let b = 0; b < spec.depth; b++) {
    const p = `blocks.${b}.`;
    const attnIn = norm(g, spec, x, `${p}attn_norm`, batch);
    const qkv = g.tensor(`${p}qkv`, [batch, 3 * d], 'f32', 'activation');
    g.op('linear', `${p}attn.qkv`, { x: attnIn, weight: g.tensor(`${p}attn.qkv.weight`, [3 * d, d], 'f32', 'param', { kind: 'normal', std: 0.02 }) }, { y: qkv }, {}, origin(spec, 'heads'));
    const attn = g.tensor(`${p}attn_heads`, [batch, d], 'f32', 'activation');
    const keys = g.tensor(`${p}attn.keys`, [batch * S, d], 'f32', 'state', { kind: 'zeros' });
    const values = g.tensor(`${p}attn.values`, [batch * S, d], 'f32', 'state', { kind: 'zeros' });
    const rotaryBase = spec.position === 'rotary' ? 10000 : 0;
    g.op('decode_attention', `${p}attention`, { qkv, positions }, { y: attn, keys, values }, { heads: spec.heads, context: S, rotary_base: rotaryBase }, origin(spec, 'heads'));
    const attnOut = g.tensor(`${p}attn_out`, [batch, d], 'f32', 'activation');
    g.op('linear', `${p}attn.out`, { x: attn, weight: g.tensor(`${p}attn.out.weight`, [d, d], 'f32', 'param', { kind: 'normal', std: 0.02 }) }, { y: attnOut }, {}, origin(spec, 'heads'));
    const afterAttn = g.tensor(`${p}resid_attn`, [batch, d], 'f32', 'activation');
    g.op('add', `${p}residual_attn`, { a: x, b: attnOut }, { y: afterAttn }, {}, origin(spec, 'model'));
    x = ffnBlock(g, spec, b, afterAttn, { batch, seq: 1 });
  }
  const logits = lmHead(g, spec, x, embed, batch);
  return g.build('decode', spec.name, batch, 1, logits);
}

/** Block b's pre-norm feed-forward layer (dense or MoE) and its residual add; returns the block's output. */
function ffnBlock(g: GraphBuilder, spec: ModelSpec, b: number, afterAttn: string, shape: LowerShape, options: LowerOptions = {}): string {
  const p = `blocks.${b}.`;
  const N = shape.batch * shape.seq;
  const d = spec.width;
  const ffnIn = norm(g, spec, afterAttn, `${p}ffn_norm`, N);
  let ffnOut: string;
  const layer = spec.layers[b]!;
  if (layer.kind === 'moe') {
    ffnOut = lowerMoeLayer(g, layer, ffnIn, `${p}moe.`, { ...shape, width: d, depth: spec.depth }, options);
  } else {
    ffnOut = g.tensor(`${p}ffn_out`, [N, d], 'f32', 'activation');
    const w = expertWeights(g, `${p}ffn.`, 1, layer.hidden, d, layer.activation === 'swiglu', 0.02, 0.02 / Math.sqrt(2 * spec.depth));
    g.op('ffn', `${p}ffn`, { x: ffnIn, ...w }, { y: ffnOut }, { activation: layer.activation, experts: 1 }, layer.origin);
  }
  const out = g.tensor(`${p}out`, [N, d], 'f32', 'activation');
  g.op('add', `${p}residual_ffn`, { a: afterAttn, b: ffnOut }, { y: out }, {}, origin(spec, 'model'));
  return out;
}

/** The final norm and the LM head (tied to the embedding or its own weight): logits [N, vocab]. */
function lmHead(g: GraphBuilder, spec: ModelSpec, x: string, embed: string, N: number): string {
  const final = norm(g, spec, x, 'final_norm', N);
  const head = spec.tieEmbeddings ? embed : g.tensor('lm_head.weight', [spec.vocab, spec.width], 'f32', 'param', { kind: 'normal', std: 0.02 });
  const logits = g.tensor('logits', [N, spec.vocab], 'f32', 'activation');
  g.op('linear', 'lm_head', { x: final, weight: head }, { y: logits }, {}, origin(spec, 'tie_embeddings'));
  return logits;
}

/**
 * Lowers the MoE layer of one block (default: the first MoE block) alone: input `x` [batch·seq, width],
 * output `y`, router losses included. Parameter names are the layer's own
 * (`router.weight`, `experts.up.weight`, …), as `moec layer` reads and writes them.
 */
export function lowerMoeBlock(spec: ModelSpec, shape: LowerShape, block = moeBlocks(spec)[0] ?? -1): Graph {
  const layer = moeLayerOf(spec, block);
  if (!layer) throw new Error(`internal: lowerMoeBlock on block ${block}, which has no MoE layer`);
  const g = new GraphBuilder();
  const N = shape.batch * shape.seq;
  const x = g.tensor('x', [N, spec.width], 'f32', 'input');
  const y = lowerMoeLayer(g, layer, x, '', { ...shape, width: spec.width, depth: spec.depth });
  return g.build('layer', spec.name, shape.batch, shape.seq, y);
}

function norm(g: GraphBuilder, spec: ModelSpec, x: string, name: string, N: number): string {
  const weight = g.tensor(`${name}.weight`, [spec.width], 'f32', 'param', { kind: 'ones' });
  const inputs = spec.norm === 'layer' ? { x, weight, bias: g.tensor(`${name}.bias`, [spec.width], 'f32', 'param', { kind: 'zeros' }) } : { x, weight };
  const y = g.tensor(`${name}.y`, [N, spec.width], 'f32', 'activation');
  g.op('norm', name, inputs, { y }, { kind: spec.norm, eps: 1e-5 }, origin(spec, 'norm'));
  return y;
}

/** The origin of a model-level key: its line if written, else the `model` line. */
function origin(spec: ModelSpec, key: string): Origin {
  return spec.origins[key] ?? spec.origins.model ?? { line: 0, text: '' };
}
