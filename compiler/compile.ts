/**
 * The front end in one call: text → tokens → CST → AST → key checks →
 * typed spec → IR. Every stage reports into one diagnostic bag; later stages
 * run only when earlier ones produced something to work on.
 */
import { checkKeys } from './check_keys.ts';
import { DiagnosticBag, type Diagnostic } from './diagnostics.ts';
import type { Graph } from './ir.ts';
import { lowerModel } from './lower.ts';
import { resolveSpec } from './resolve.ts';
import { SourceFile } from './source.ts';
import type { ModelSpec } from './spec.ts';
import { parseSpec } from './syntax.ts';
import { checkGraphSize } from './size_check.ts';

export interface CheckResult {
  readonly file: SourceFile;
  /** Sorted by position. */
  readonly diagnostics: readonly Diagnostic[];
  /** Present when there are no errors. */
  readonly spec?: ModelSpec;
}

export interface LowerResult extends CheckResult {
  readonly graph?: Graph;
}

/** Checks a spec's text; never throws on bad input. */
export function checkSpec(text: string, path: string): CheckResult {
  const file = new SourceFile(path, text);
  const bag = new DiagnosticBag();
  const doc = parseSpec(text, bag);
  let spec: ModelSpec | undefined;
  if (doc) {
    const root = checkKeys(doc, file, bag);
    spec = resolveSpec(root, file, bag);
  }
  if (spec && !bag.hasErrors) checkGraphSize(spec, bag);
  return { file, diagnostics: bag.sorted(), ...(spec && !bag.hasErrors ? { spec } : {}) };
}

/** Checks and lowers a spec to the IR of its whole model at the training shape. */
export function compileSpec(text: string, path: string): LowerResult {
  const checked = checkSpec(text, path);
  if (!checked.spec) return checked;
  return { ...checked, graph: lowerModel(checked.spec) };
}
