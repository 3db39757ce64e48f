/**
 * The `moec` command line. Each command lives in its own file; this one
 * wires them to commander and turns errors into messages and exit codes:
 * 0 success, 1 a problem with the input or a failed check, 2 bad usage,
 * 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { dumpGraph } from '../compiler/ir_dump.ts';
import { lowerModel } from '../compiler/lower.ts';
import { infoCommand } from './info_command.ts';
import { loadSpec, requireSpec } from './load_spec.ts';
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
  .description('check a spec: syntax, keys, values and their relations (exit 1 on errors, 0 with only warnings)')
  .argument('<spec...>', '.moe files')
  .option('--json', 'print diagnostics as JSON (file, line, column, length, code, severity, message, hint)')
  .action((specs: string[], opts: { json?: boolean }) => {
    let failed = false;
    for (const path of specs) {
      const r = loadSpec(path, opts);
      if (!r.spec) failed = true;
      else if (!opts.json) process.stderr.write(`${path}: ok${r.diagnostics.length ? ` (${r.diagnostics.length} warning${r.diagnostics.length > 1 ? 's' : ''})` : ''}\n`);
    }
    if (failed) process.exitCode = 1;
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
  .command('info')
  .description('parameters, active parameters per token and FLOPs per token, per layer and total')
  .argument('<spec>', '.moe file')
  .option('--json', 'print as JSON')
  .action((path: string, opts: { json?: boolean }) => infoCommand(path, opts));

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
  if (e instanceof UserError) {
    if (!e.quiet) process.stderr.write(`moec: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`moec: internal error: ${err.message}\n  this is a bug in moec; please report it with the command you ran${process.env.MOEC_DEBUG ? `\n${err.stack}` : ' (set MOEC_DEBUG=1 for details)'}\n`);
  return 70;
}

await main(process.argv);
