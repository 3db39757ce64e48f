/**
 * model.py of a PyTorch export: the spec's model as nn.Modules, generated
 * from its lowered IR by the emitters of codegen/pytorch/ops (one per op
 * kind, like the other two backends). One class per distinct MoE layer
 * (its router written out step by step, commented with the spec lines), one
 * per kind of block, and the model. Parameter and buffer names are moec's
 * checkpoint names, so `state_dict()` reads and writes moec checkpoints.
 */
import type { Graph, Op, OpKind, Tensor } from '../../compiler/ir.ts';
import { lowerModel, lowerMoeBlock, trainShape } from '../../compiler/lower.ts';
import { describeCore } from '../../compiler/routing_core.ts';
import { moeDefinitions, type ModelSpec, type MoeFfnSpec } from '../../compiler/spec.ts';
import { ACTIVATIONS } from '../../compiler/schema.ts';
import { SCORE_NAMES } from '../../compiler/score_functions.ts';
import { pythonHelpers } from '../rowmath/functions.ts';
import { SCORES } from '../rowmath/scores.ts';
import { baseActivation } from '../wgsl/activations.ts';
import { EXPERTS_PY } from './ops/experts.ts';
import { LOSSES_PY } from './ops/losses.ts';
import { MODEL_PY } from './ops/model.ts';
import { ROUTING_PY, scoreClass } from './ops/routing.ts';
import type { PyEmitter, PyTable } from './py_op.ts';

/** Every op kind's emitter; a kind missing from all of them is a type error. */
const EMITTERS: PyTable<OpKind> = { ...MODEL_PY, ...ROUTING_PY, ...EXPERTS_PY, ...LOSSES_PY };

/** Local names the emitters use for their own temporaries: a tensor never gets one. */
const TEMPORARIES = new Set([
  'a', 'allowed', 'b', 'before', 'best', 'best_groups', 'c', 'causal', 'centred', 'choice', 'choices', 'cos', 'counts', 'd0', 'd1', 'down', 'expert',
  'experts', 'f', 'gates', 'gates_all', 'group_score', 'h', 'hidden', 'inv', 'k', 'keep', 'kept', 'mean_probs', 'mixed', 'noise', 'offsets', 'picked',
  'picks', 'position', 'q', 'ranking', 'real', 'row', 'rows', 'scores', 'sin', 'slot', 'taken', 'theta', 'token_of', 'tokens', 'total', 'turned',
  'update', 'w', 'capacity', 'demand', 'load', 'token_slot', 'qk', 'F', 'N', 'B', 'S', 'N_all', 'B_all', 'x', 'self', 'losses',
]);

/** A Python identifier for a tensor's local variable. */
function localName(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1');
  return TEMPORARIES.has(id) ? `${id}_` : id;
}

/** Python for a value that is a parameter or buffer of the module (`self.router.weight`). */
function attribute(path: string): string {
  return `self.${path}`;
}

const kept = (t: Tensor) => t.role === 'param' || t.role === 'frozen' || t.role === 'state';

interface ModuleCode {
  readonly name: string;
  readonly lines: string[];
}

/** The forward lines of `ops`, tensor names made relative to `prefix` (params become attributes, the rest locals). */
function emitOps(graph: Graph, ops: readonly Op[], prefix: string, layer: MoeFfnSpec | undefined, specPath: string, inputs: Record<string, string>): string[] {
  const v = (t: string): string => {
    if (inputs[t] !== undefined) return inputs[t]!;
    const info = graph.tensors.get(t);
    if (!info) throw new Error(`internal: unknown tensor ${t}`);
    const rel = t.startsWith(prefix) ? t.slice(prefix.length) : t;
    return kept(info) ? attribute(rel) : localName(rel);
  };
  const dim = (t: string, axis: number) => graph.tensors.get(t)!.shape[axis]!;
  const lines: string[] = [];
  for (const op of ops) {
    const at = op.origin.line ? ` (${specPath}:${op.origin.line}: ${op.origin.text})` : '';
    lines.push(`# ${op.kind}${at}`);
    lines.push(...(EMITTERS[op.kind] as PyEmitter<Op>)({ op, v, dim, layer }));
    for (const out of Object.values(op.outputs)) {
      if (graph.tensors.get(out)?.role === 'loss') lines.push(`losses[self.prefix + ${JSON.stringify(out.slice(prefix.length))}] = ${v(out)}`);
    }
  }
  return lines;
}

/** `__init__` lines declaring the module's parameters and buffers, sharding routed experts under expert parallelism. */
function declarations(graph: Graph, prefix: string, tensors: readonly Tensor[], shardExperts: boolean): string[] {
  const lines: string[] = [];
  for (const t of tensors) {
    const rel = t.name.slice(prefix.length);
    const shape = [...t.shape].map(String);
    // Routed experts' weights: this rank's share of the experts.
    if (shardExperts && /^experts\./.test(rel)) shape[0] = `${t.shape[0]} // ranks.world`;
    const make = `torch.zeros(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
    const how = t.role === 'state' ? `'buffer'` : t.role === 'frozen' ? `'frozen'` : `'param'`;
    const sharded = shardExperts && /^experts\./.test(rel) ? ', sharded=True' : '';
    lines.push(`moec_support.declare(self, ${JSON.stringify(rel)}, ${make}, ${how}${sharded})`);
  }
  void graph;
  return lines;
}

/** One class per distinct MoE layer. */
function moeLayerClass(spec: ModelSpec, index: number, block: number, moe: MoeFfnSpec): ModuleCode {
  const graph = lowerMoeBlock(spec, trainShape(spec), block);
  const name = `MoeLayer${index}`;
  const blocks = spec.layers.flatMap((l, b) => (l === moe ? [b] : []));
  const tensors = [...graph.tensors.values()].filter(kept);
  const shard = moe.routing.select === 'token_choice' && moe.experts.kind === 'full';
  const forward = emitOps(graph, graph.ops, '', moe, spec.source.path, { x: 'x' });
  const update = emitOps(graph, graph.stateUpdates, '', moe, spec.source.path, {}).filter((l) => !l.startsWith('losses['));
  const lines = [
    `class ${name}(nn.Module):`,
    `    """The MoE layer of blocks ${blocks.join(', ')}: ${moe.experts.count} ${moe.experts.kind} experts, routed by`,
    `    ${moe.preset} = ${describeCore(moe.routing)}.`,
    `    From ${spec.source.path}:${moe.origin.line}: ${moe.origin.text}`,
    '    forward(x [N, width], B sequences of S tokens) returns y [N, width] and adds the layer\'s losses to `losses`."""',
    '',
    `    load_rows = ${moe.experts.count + moe.routing.nullExperts}  # rows of the load metrics: routed (and null) experts`,
    '',
    '    def __init__(self, prefix, ranks):',
    '        super().__init__()',
    '        self.prefix, self.ranks = prefix, ranks',
    '        self.step, self.balance_step = 0, -1',
    ...declarations(graph, '', tensors, shard).map((l) => `        ${l}`),
    '',
    '    def forward(self, x, B, S, losses):',
    '        N, N_all, B_all = x.shape[0], x.shape[0] * self.ranks.world, B * self.ranks.world',
    ...forward.map((l) => `        ${l}`),
    ...(graph.tensors.has('demand') ? ['        self.demand = demand_  # choices per expert, for the bias update and metrics'] : []),
    ...(graph.tensors.has('load') ? ['        self.load_counts = load_  # choices kept per expert (metrics)'] : []),
    `        self.last_logits = ${localName('logits')}.detach()  # router logits (metrics: entropy)`,
    `        return ${localName(graph.output)}`,
  ];
  if (update.length) lines.push('', '    @torch.no_grad()', '    def update_state(self):', '        """After each optimizer step (loss-free balancing)."""', '        demand_ = self.demand', ...update.map((l) => `        ${l}`));
  return { name, lines };
}

/** The ops of block b of the model graph, the MoE layer's replaced by a call of its module. */
function blockClass(spec: ModelSpec, model: Graph, b: number, kind: string, moeClass: string | undefined): ModuleCode {
  const prefix = `blocks.${b}.`;
  const ops = model.ops.filter((o) => o.name.startsWith(prefix));
  const isMoe = (o: Op) => o.name.startsWith(`${prefix}moe.`);
  const moeOps = ops.filter(isMoe);
  const produced = (list: readonly Op[]) => new Set(list.flatMap((o) => Object.values(o.outputs)));
  const inBlock = produced(ops);
  // The block's input (the previous block's output, or the embeddings) is `x` inside the class.
  const input = ops.flatMap((o) => Object.values(o.inputs)).find((t) => !inBlock.has(t) && model.tensors.get(t)?.role === 'activation')!;
  const emit = (list: readonly Op[]) => emitOps(model, list, prefix, undefined, spec.source.path, { [input]: 'x' });
  const rel = (t: string) => (t === input ? 'x' : localName(t.slice(prefix.length)));
  const tensors = [...model.tensors.values()].filter((t) => kept(t) && t.name.startsWith(prefix) && !t.name.startsWith(`${prefix}moe.`));
  let body: string[];
  if (moeClass && moeOps.length) {
    const first = ops.indexOf(moeOps[0]!);
    const last = ops.indexOf(moeOps.at(-1)!);
    const fromMoe = produced(moeOps);
    const moeIn = Object.values(moeOps[0]!.inputs).find((t) => !fromMoe.has(t) && model.tensors.get(t)?.role === 'activation')!;
    const moeOut = ops.slice(last + 1).flatMap((o) => Object.values(o.inputs)).find((t) => fromMoe.has(t))!;
    body = [...emit(ops.slice(0, first)), `# the MoE layer (${spec.source.path}:${moeOps[0]!.origin.line})`, `${rel(moeOut)} = self.moe(${rel(moeIn)}, B, S, losses)`, ...emit(ops.slice(last + 1))];
  } else {
    body = emit(ops);
  }
  const out = Object.values(ops.at(-1)!.outputs)[0]!;
  return {
    name: kind,
    lines: [
      `class ${kind}(nn.Module):`,
      `    """A transformer block: pre-norm attention${moeClass ? `, then the MoE layer ${moeClass}` : ', then a dense FFN'}, each with a residual."""`,
      '',
      '    def __init__(self, prefix, ranks):',
      '        super().__init__()',
      '        self.prefix = prefix',
      ...declarations(model, prefix, tensors, false).map((l) => `        ${l}`),
      ...(moeClass ? [`        self.moe = ${moeClass}(prefix + 'moe.', ranks)`] : []),
      '',
      '    def forward(self, x, B, S, losses):',
      '        N = x.shape[0]',
      ...body.map((l) => `        ${l}`),
      `        return ${rel(out)}`,
    ],
  };
}

/** The row math the model uses: activations and score functions, from their one definition (codegen/rowmath). */
function rowMath(spec: ModelSpec): string[] {
  const acts = new Set<string>();
  const scores = new Set<string>();
  for (const l of spec.layers) {
    const act = l.kind === 'dense' ? l.activation : l.experts.activation;
    acts.add(act);
    if (l.kind === 'moe') {
      if (l.shared) acts.add(l.shared.activation);
      if (l.dense) acts.add(l.dense.activation);
      scores.add(l.routing.score);
      if (l.shared?.gate === 'sigmoid') scores.add('sigmoid');
    }
  }
  const names = [...acts].filter((a) => (ACTIVATIONS as readonly string[]).includes(a)).flatMap((a) => (a === 'swiglu' ? ['act_silu'] : [`act_${baseActivation(a as never)}`]));
  const lines = [pythonHelpers(...new Set(names))];
  for (const s of SCORE_NAMES.filter((n) => scores.has(n))) {
    const def = SCORES[s];
    if (def.shape !== 'elementwise') continue;
    lines.push(
      pythonHelpers(def.forward, def.grad),
      '',
      '',
      `class ${scoreClass(s)}(torch.autograd.Function):`,
      `    """Router score ${s}: ${def.doc}; its gradient is moec's (${def.grad.doc})."""`,
      '',
      '    @staticmethod',
      '    def forward(ctx, z):',
      `        p = ${def.forward.name}(z)`,
      '        ctx.save_for_backward(p)',
      '        return p',
      '',
      '    @staticmethod',
      '    def backward(ctx, dp):',
      '        (p,) = ctx.saved_tensors',
      `        return ${def.grad.name}(p, dp)`,
    );
  }
  return lines;
}

/** The source of model.py. */
export function generateModelPy(spec: ModelSpec): string {
  const model = lowerModel(spec);
  const defs = moeDefinitions(spec);
  const moeClasses = defs.map(({ block, moe }, i) => moeLayerClass(spec, i, block, moe));
  // One block class per kind: dense, or MoE with a given layer class.
  const kinds = new Map<string, number>();
  const blockKind = spec.layers.map((l, b) => {
    const i = l.kind === 'moe' ? defs.findIndex((d) => d.moe === l) : -1;
    const kind = i >= 0 ? `MoeBlock${i}` : 'DenseBlock';
    if (!kinds.has(kind)) kinds.set(kind, b);
    return kind;
  });
  const blockClasses = [...kinds].map(([kind, b]) => blockClass(spec, model, b, kind, kind.startsWith('Moe') ? moeClasses[Number(kind.slice(8))]!.name : undefined));
  const top = model.ops.filter((o) => !o.name.startsWith('blocks.'));
  const firstBlockOp = model.ops.findIndex((o) => o.name.startsWith('blocks.'));
  const head = top.filter((o) => model.ops.indexOf(o) < firstBlockOp);
  const tail = top.filter((o) => model.ops.indexOf(o) > firstBlockOp);
  const blockIn = Object.values(model.ops[firstBlockOp]!.inputs).find((t) => !t.startsWith('blocks.'))!;
  const blockOut = `blocks.${spec.depth - 1}.out`;
  const topTensors = [...model.tensors.values()].filter((t) => kept(t) && !t.name.startsWith('blocks.'));
  const emit = (o: readonly Op[]) => emitOps(model, o, '', undefined, spec.source.path, { tokens: 'tokens', targets: 'targets' });
  const params = [...model.tensors.values()].filter(kept);
  return [
    `# Generated by moec from ${spec.source.path}: do not edit; export again with \`moec export ${spec.source.path} --target pytorch\`.`,
    `"""${spec.name} as PyTorch modules: ${spec.depth} blocks, width ${spec.width}, ${spec.heads} heads, vocabulary ${spec.vocab}.`,
    '',
    'Parameter names are moec checkpoint names; Model.load_checkpoint / save_checkpoint read and write them.',
    '"""',
    '',
    'import math',
    '',
    'import torch',
    'import torch.nn as nn',
    'import torch.nn.functional as F',
    '',
    'try:',
    '    from . import moec_support',
    'except ImportError:  # run as a script from this folder',
    '    import moec_support',
    '',
    `SEED = ${spec.train.seed}`,
    '',
    '# Every parameter, frozen weight and state tensor: shape, role and how moec initialises it (docs/MODEL.md).',
    'PARAMETERS = {',
    ...params.map((t) => `    ${JSON.stringify(t.name)}: {"shape": [${t.shape.join(', ')}], "role": "${t.role}", "init": ${JSON.stringify(t.init ?? { kind: 'zeros' })}},`),
    '}',
    '',
    '',
    '# ---- row math: the same definitions moec\'s kernels and reference use (codegen/rowmath)',
    '',
    ...rowMath(spec),
    '',
    '',
    ...moeClasses.flatMap((c) => ['', ...c.lines, '', '']),
    ...blockClasses.flatMap((c) => ['', ...c.lines, '', '']),
    '',
    'class Model(nn.Module):',
    `    """${spec.name}: embeddings, ${spec.depth} blocks (${blockKind.join(', ')}), final norm, LM head.`,
    '    forward(tokens [B, S], targets [B, S]) returns the logits [B·S, vocab] and a dict of losses (the objective is their sum)."""',
    '',
    '    def __init__(self, ranks=None):',
    '        super().__init__()',
    '        self.prefix, self.ranks = \'\', ranks or moec_support.Ranks()',
    ...declarations(model, '', topTensors, false).map((l) => `        ${l}`),
    `        self.blocks = nn.ModuleList([${blockKind.map((k, b) => `${k}('blocks.${b}.', self.ranks)`).join(', ')}])`,
    '',
    '    def forward(self, tokens, targets):',
    '        B, S = tokens.shape',
    '        N, N_all = B * S, B * S * self.ranks.world',
    '        tokens, targets = tokens.reshape(-1), targets.reshape(-1)',
    '        losses = {}',
    ...emit(head).map((l) => `        ${l}`),
    `        x = ${localName(blockIn)}`,
    '        for block in self.blocks:',
    '            x = block(x, B, S, losses)',
    `        ${localName(blockOut)} = x`,
    ...emit(tail).map((l) => `        ${l}`),
    `        return ${localName(model.output)}, losses`,
    '',
    '    def moe_layers(self):',
    '        """The MoE layer modules, in block order."""',
    "        return [b.moe for b in self.blocks if hasattr(b, 'moe')]",
    '',
    '    def set_step(self, step):',
    '        """The training step, for router jitter and global-batch balance counts."""',
    '        for layer in self.moe_layers():',
    '            layer.step = step',
    '',
    '    @torch.no_grad()',
    '    def update_state(self):',
    '        """After each optimizer step: loss-free balancing biases."""',
    '        for layer in self.moe_layers():',
    "            if hasattr(layer, 'update_state'):",
    '                layer.update_state()',
    '',
    '    @torch.no_grad()',
    '    def initialize(self, seed=SEED):',
    '        """moec\'s seeded initialisation (the same numbers as `moec train`)."""',
    '        full = {name: moec_support.init_tensor(name, p["shape"], p["init"], seed) for name, p in PARAMETERS.items()}',
    '        self.load_tensors(full)',
    '',
    '    @torch.no_grad()',
    '    def load_tensors(self, tensors):',
    '        """Sets parameters and buffers from full (unsharded) tensors by moec name; a rank keeps its experts\' share."""',
    '        moec_support.load_tensors(self, tensors, self.ranks)',
    '',
    '    def full_tensors(self):',
    '        """Every parameter and buffer by moec name, routed experts gathered from all ranks."""',
    '        return moec_support.full_tensors(self, self.ranks)',
    '',
  ].join('\n');
}
