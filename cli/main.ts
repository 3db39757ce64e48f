/**
 * The `moec` command line. Each command lives in its own file; this one
 * wires them to commander and turns errors into messages and exit codes:
 * 0 success, 1 a problem with the input or a failed check, 2 bad usage,
 * 130 interrupted.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { dumpGraph } from '../compiler/ir_dump.ts';
import { lowerModel } from '../compiler/lower.ts';
import { infoCommand } from './info_command.ts';
import { startLanguageServer } from '../editor/lsp_server.ts';
import { playCommand } from './play_command.ts';
import { checkCommand } from './check_command.ts';
import { DeviceFitError } from '../codegen/device_fit.ts';
import { requireSpec } from './load_spec.ts';
import { GpuUnavailableError, KernelError } from '../runtime/gpu_errors.ts';
import { layerCommand, type LayerOptions } from './layer_command.ts';
import { testCommand } from './test_command.ts';
import { compileCommand } from './compile_command.ts';
import { exportCommand, type ExportOptions } from './export_command.ts';
import { compareCommand, type CompareOptions } from './compare_command.ts';
import { sampleCommand, type SampleCommandOptions } from './sample_command.ts';
import { trainCommand, type TrainCommandOptions } from './train_command.ts';
import { describeFileSystemError } from './file_system_error.ts';
import { UserError } from './user_error.ts';

const program = new Command();
program
  .name('moec')
  .description('Compile declarative Mixture-of-Experts specs (.moe) into WGSL kernels and a training harness.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('check')
  .description('check a spec: syntax, keys, values and their relations, then the memory it needs and whether it fits (exit 1 on errors, 0 with only warnings)')
  .argument('<spec...>', '.moe files')
  .option('--json', 'print diagnostics as JSON (file, line, column, length, code, severity, message, hint)')
  .option('--device', "also compare sizes with this machine's WebGPU adapter limits")
  .action(async (specs: string[], opts: { json?: boolean; device?: boolean }) => {
    process.exitCode = await checkCommand(specs, opts);
  });

program
  .command('ir')
  .description('print the lowered IR (typed tensor graph) of a spec at its training shape')
  .argument('<spec>', '.moe file')
  .action((path: string) => {
    const spec = requireSpec(path);
    process.stdout.write(dumpGraph(lowerModel(spec)));
  });

program
  .command('lsp')
  .description('run the .moe language server over stdio (diagnostics, completion, hover) for any LSP editor')
  .option('--stdio', 'talk over stdin/stdout (the only transport; editors often pass it)')
  .action(() => startLanguageServer());

program
  .command('play')
  .description('serve the browser playground: edit a spec with live diagnostics, train it on the browser\'s WebGPU, compare runs, download checkpoints')
  .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', parseInteger, 8090)
  .action((opts: { port: number }) => playCommand(opts));

program
  .command('info')
  .description('parameters, active parameters per token and FLOPs per token, per layer and total')
  .argument('<spec>', '.moe file')
  .option('--json', 'print as JSON')
  .action((path: string, opts: { json?: boolean }) => infoCommand(path, opts));

program
  .command('test')
  .description('prove every generated kernel of a spec (forward and backward) on this WebGPU adapter against the Float64 reference')
  .argument('<spec>', '.moe file')
  .option('--seed <n>', 'seed of the random inputs', parseInteger, 1)
  .option('--verbose', 'one row per compared tensor instead of the worst per kernel group')
  .option('--json', 'print every comparison as JSON')
  .action((path: string, opts: { seed: number; verbose?: boolean; json?: boolean }) => testCommand(path, opts));

program
  .command('layer')
  .description('run one MoE layer of a spec on WebGPU on your input, to compare with another framework (safetensors in and out)')
  .argument('<spec>', '.moe file')
  .requiredOption('--input <file>', 'safetensors with `x` [batch, seq, width] (and `dy` for --backward)')
  .requiredOption('--out <file>', 'safetensors to write: y, loss.balance, loss.z, load (+ grad.* with --backward, + the parameters without --weights)')
  .option('--weights <file>', 'safetensors with the layer parameters (layer names, or a checkpoint with blocks.K.moe. names); default: initialised from --seed')
  .option('--layer <k>', 'the MoE block to take (default: the first MoE block)', parseInteger)
  .option('--backward', 'also compute gradients of sum(y * dy) + loss.balance + loss.z (+ loss.sequence_balance)')
  .option('--seed <n>', 'seed of the parameter initialisation', parseInteger, 1)
  .action((path: string, opts: LayerOptions) => layerCommand(path, opts));

program
  .command('compile')
  .description('write a compiled model: DIR/model.ts (the generated harness), DIR/kernels/*.wgsl, DIR/manifest.json')
  .argument('<spec>', '.moe file')
  .requiredOption('-o, --out <dir>', 'output folder')
  .action((path: string, opts: { out: string }) => compileCommand(path, opts.out));

program
  .command('export')
  .description('write a spec as a self-contained PyTorch package (model.py, train.py with expert parallelism, README); --format hf also writes its Hugging Face model family')
  .argument('<spec>', '.moe file')
  .requiredOption('--target <name>', 'pytorch')
  .requiredOption('-o, --out <dir>', 'output folder')
  .option('--format <name>', 'moec (default) or hf: also DIR/hf/config.json + model.safetensors (Mixtral or Qwen2-MoE)')
  .option('--checkpoint <file>', 'weights for --format hf: a checkpoint.safetensors of this spec (default: the seeded initialisation)')
  .action((path: string, opts: ExportOptions) => exportCommand(path, opts));

program
  .command('train')
  .description('train a spec on the built-in corpus or --data FILE: progress, metrics.jsonl, checkpoint, report.html')
  .argument('<spec>', '.moe file')
  .option('--steps <n>', 'optimizer steps (default: the spec\'s `steps`)', parsePositive)
  .option('--data <file>', 'UTF-8 text file to train on, byte-level, or a built-in corpus: synthetic, moby_dick (real text) (default: the spec\'s `data`)')
  .option('--out <dir>', 'output folder (default: runs/<model name>)')
  .option('--resume', 'continue the run in --out from its checkpoint (same numbers as an uninterrupted run)')
  .option('--record-routing <file>', "write every token-choice layer's selections, per micro-batch of every step, to FILE")
  .option('--replay-routing <file>', "use the selections recorded in FILE instead of the routers' own (the recorded run, reproduced bit for bit)")
  .action((path: string, opts: TrainCommandOptions) => trainCommand(path, opts));

program
  .command('compare')
  .description('train several specs on the same data and token budget (equal FLOPs or parameters with --match, several seeds with --seeds); say what is beyond noise; write one comparison report')
  .argument('<specs...>', '.moe files (at least two)')
  .option('--steps <n>', 'steps of the first spec; the others get the same number of training tokens', parsePositive)
  .option('--out <dir>', 'output folder', 'runs/compare')
  .option('--data <file>', 'UTF-8 text file, or a built-in corpus: synthetic, moby_dick (real text) (default: the first spec\'s `data`)')
  .option('--seed <n>', 'seed of every spec\'s first run', parseInteger, 1)
  .option('--seeds <n>', 'runs per spec (seeds --seed, --seed+1, …): the report gives mean and spread and says what is beyond seed noise', parsePositive, 1)
  .option('--match <what>', 'none: the specs as written; flops: scale FFN hidden sizes to the first spec\'s forward FLOPs per token; params: to its parameter count', 'none')
  .option('--resume', 'continue interrupted runs in --out')
  .action((paths: string[], opts: CompareOptions) => compareCommand(paths, opts));

program
  .command('sample')
  .description('generate text from a checkpoint')
  .argument('<checkpoint>', 'a checkpoint.safetensors written by moec train')
  .option('--prompt <text>', 'text to continue')
  .option('--tokens <n>', 'bytes to generate', parsePositive, 200)
  .option('--temperature <t>', 'sampling temperature (0 = greedy)', Number, 0.8)
  .option('--seed <n>', 'sampling seed', parseInteger, 1)
  .option('--no-cache', 're-run the whole context window for every byte instead of decoding with a key/value cache')
  .action((path: string, opts: SampleCommandOptions) => sampleCommand(path, opts));

/** Parses a positive integer option. */
function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** Parses an integer option, or fails with a usage error. */
function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

/** Runs the CLI; never lets an exception reach the user as a stack trace. */
async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (e) {
    process.exitCode = exitCodeFor(e);
  }
}

function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander.
    return e.exitCode === 0 ? 0 : 2;
  }
  if (e instanceof GpuUnavailableError) {
    process.stderr.write(`moec: ${e.message}\n  hint: ${e.hint}\n`);
    return 1;
  }
  if (e instanceof DeviceFitError) {
    for (const p of e.problems) process.stderr.write(`moec: ${p.message}\n  hint: ${p.hint}\n`);
    return 1;
  }
  if (e instanceof KernelError) {
    process.stderr.write(`moec: ${e.message}\n  hint: ${e.hint}\n${process.env.MOEC_DEBUG ? `  adapter said: ${e.detail}\n` : ''}`);
    return 1;
  }
  if (e instanceof UserError) {
    if (!e.quiet) process.stderr.write(`moec: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
    return e.exitCode;
  }
  const fsError = describeFileSystemError(e);
  if (fsError) {
    process.stderr.write(`moec: ${fsError.message}\n  hint: ${fsError.hint}\n`);
    return 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`moec: internal error: ${err.message}\n  this is a bug in moec; please report it with the command you ran${process.env.MOEC_DEBUG ? `\n${err.stack}` : ' (set MOEC_DEBUG=1 for details)'}\n`);
  return 70;
}

await main(process.argv);
// Dawn keeps the event loop alive while a device exists; the command is done.
process.exit(process.exitCode ?? 0);
