/**
 * Reads a spec file for a command and prints its diagnostics; the one place
 * commands turn "file on disk" into "checked spec or a clean exit".
 */
import { readFileSync, statSync } from 'node:fs';
import { checkSpec, type CheckResult } from '../compiler/compile.ts';
import { diagnosticToJson, formatDiagnostic, summarize } from '../compiler/diagnostics.ts';
import { UserError } from './user_error.ts';

/** Reads a text file or throws a UserError that says why not. */
export function readTextFile(path: string, what = 'spec'): string {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new UserError(`${path} is a directory, not a ${what} file`, what === 'spec' ? 'pass a .moe file, e.g. specs/switch.moe' : undefined);
    size = st.size;
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${path}: no such file` : `cannot read ${path} (${code ?? 'unknown error'})`, what === 'spec' ? 'the shipped specs are in specs/' : undefined);
  }
  if (size > 64 * 1024 * 1024) throw new UserError(`${path} is ${(size / 1048576).toFixed(0)} MiB; that is not a ${what} file`);
  return readFileSync(path, 'utf8');
}

/** Options shared by commands that read a spec. */
export interface DiagnosticOutput {
  json?: boolean;
}

/** Prints diagnostics (text to stderr, or JSON to stdout) and returns the check result. */
export function loadSpec(path: string, out: DiagnosticOutput = {}): CheckResult {
  const text = readTextFile(path);
  const result = checkSpec(text, path);
  if (out.json) {
    process.stdout.write(`${JSON.stringify({ file: path, ok: !!result.spec, diagnostics: result.diagnostics.map((d) => diagnosticToJson(result.file, d)) }, null, 2)}\n`);
  } else {
    for (const d of result.diagnostics) process.stderr.write(`${formatDiagnostic(result.file, d)}\n`);
    if (result.diagnostics.length) process.stderr.write(`${path}: ${summarize(result.diagnostics)}\n`);
  }
  return result;
}

/** Loads a spec and exits with status 1 if it has errors. */
export function requireSpec(path: string, out: DiagnosticOutput = {}): NonNullable<CheckResult['spec']> {
  const r = loadSpec(path, out);
  if (!r.spec) throw new UserError(`${path} has errors; nothing was done`, undefined, 1, true);
  return r.spec;
}
