/**
 * Device-fit problems (codegen/device_fit.ts) printed as diagnostics of the
 * spec — file:line:col at the key that sets the size — and turned into a
 * quiet user error (exit 1).
 */
import { DeviceFitError, fitDiagnostic } from '../codegen/device_fit.ts';
import { formatDiagnostic, summarize } from '../compiler/diagnostics.ts';
import { SourceFile } from '../compiler/source.ts';
import type { ModelSpec } from '../compiler/spec.ts';
import { UserError } from './user_error.ts';

/** Prints a DeviceFitError's problems against the spec's text; returns the number of errors. */
export function printFitProblems(spec: ModelSpec, e: DeviceFitError): number {
  const file = new SourceFile(spec.source.path, spec.source.text);
  const diagnostics = e.problems.map((p) => fitDiagnostic(spec, p));
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(file, d)}\n`);
  process.stderr.write(`${spec.source.path}: ${summarize(diagnostics)}\n`);
  return diagnostics.filter((d) => d.severity === 'error').length;
}

/** Runs `fn` (synchronous or not); a DeviceFitError from it is printed against the spec and becomes exit 1. */
export function checkFits<T>(spec: ModelSpec, fn: () => T): T {
  try {
    const r = fn();
    if (r instanceof Promise) return r.catch((e: unknown) => rethrow(spec, e)) as T;
    return r;
  } catch (e) {
    return rethrow(spec, e);
  }
}

function rethrow(spec: ModelSpec, e: unknown): never {
  if (!(e instanceof DeviceFitError)) throw e;
  printFitProblems(spec, e);
  throw new UserError(`${spec.source.path} does not fit this device; nothing was allocated`);
}
