/**
 * README.md of a PyTorch export: what the files are, how to train, resume
 * and run expert-parallel, how the export relates to moec (names, numbers,
 * checkpoints), and what it does not do.
 */
import { describeCore } from '../../compiler/routing_core.ts';
import { moeDefinitions, type ModelSpec } from '../../compiler/spec.ts';

/** Whether every MoE layer of the spec can be sharded over ranks (token choice over full experts). */
export function expertParallelOk(spec: ModelSpec): boolean {
  const defs = moeDefinitions(spec);
  return defs.length > 0 && defs.every(({ moe }) => moe.routing.select === 'token_choice' && moe.experts.kind === 'full');
}

/** The source of README.md for a spec's export. */
export function generateReadme(spec: ModelSpec): string {
  const layers = moeDefinitions(spec).map(({ block, moe }) => `- blocks ${spec.layers.flatMap((l, b) => (l === moe ? [b] : [])).join(', ') || block}: ${moe.experts.count} ${moe.experts.kind} experts, ${moe.preset} (${describeCore(moe.routing)})`);
  const ep = expertParallelOk(spec);
  const minExperts = Math.min(...moeDefinitions(spec).map(({ moe }) => moe.experts.count));
  return `# ${spec.name} — PyTorch export

Exported by moec from \`${spec.source.path}\` (a copy is \`spec.moe\`). Export again rather than editing:
\`moec export ${spec.source.path} --target pytorch -o DIR\`.

${spec.depth} blocks, width ${spec.width}, ${spec.heads} heads, context ${spec.context}, vocabulary ${spec.vocab}.
${layers.length ? `MoE layers:\n${layers.join('\n')}` : 'No MoE layer (a dense model).'}

| file | what it is |
| --- | --- |
| \`model.py\` | the model as \`nn.Module\`s, generated from moec's IR; every router step is commented with the spec line it comes from |
| \`train.py\` | \`moec train\`'s loop: the same data stream, initialisation, schedule, accumulation, clipping, optimizer, loss-free balancing |
| \`moec_support.py\` | the pieces both need: moec's RNG and initialisation, the built-in corpus, safetensors, moec checkpoints, expert parallelism |
| \`spec.moe\` | the spec this was exported from |

Needs Python 3.9+ and PyTorch (1.13 or 2.x); nothing else.

## Train

\`\`\`sh
python3 train.py                      # the spec's steps on the built-in corpus; writes run/metrics.jsonl, run/checkpoint.safetensors
python3 train.py --steps 200 --data my_text.txt --out run2
python3 train.py --resume --out run   # continue from a checkpoint written by this script or by \`moec train\`
${ep ? `python3 train.py --expert-parallel 2  # 2 processes, each with ${minExperts}/2 of every layer's experts (gloo on CPU, nccl on CUDA)
torchrun --nproc_per_node 4 train.py --expert-parallel 4   # the same under torchrun (PyTorch 2.x)` : '# --expert-parallel: not for this spec (it needs every MoE layer to be token choice over full experts)'}
\`\`\`

On CPU in float32, the same seed gives the losses \`moec train\` prints to about 1e-3 relative over
the first steps (the kernels and PyTorch sum in different orders, so the runs drift slowly apart).
${ep ? `Under \`--expert-parallel N\`, each process holds B/N sequences of every micro-batch and its share of
the routed experts; tokens are sent to the rank that owns their expert and back with
\`all_to_all_single\`. Routing decisions that look at the whole micro-batch (capacity, drops, the
balance losses) are taken on every rank's choices, so the run is the single-process run, to
float32 rounding. N must divide the batch and every layer's expert count.
` : ''}
## Checkpoints

\`run/checkpoint.safetensors\` is a moec checkpoint: the same tensor names (\`blocks.0.moe.router.weight\`,
…), the same metadata and checksum. \`moec sample\`, \`moec train --resume\` and \`moec layer\` read
what this script writes, and this script resumes from what \`moec train\` writes. In Python:

\`\`\`python
import moec_support, model
m = model.Model()
tensors, record = moec_support.load_checkpoint("run/checkpoint.safetensors")
m.load_tensors(tensors)
logits, losses = m(tokens, targets)   # tokens, targets: [B, S] int64
\`\`\`

## What is not exported

- moec's fused kernels: model.py is plain PyTorch (it runs wherever PyTorch runs, at PyTorch's speed).
- Routing record and replay (\`moec train --record-routing\`): train.py always routes.
- The HTML report: metrics.jsonl has the lines \`moec train\` writes (loss, losses, learning rate, gradient norm,
  per-layer expert load, drops and router entropy), for any plotting tool.
`;
}
