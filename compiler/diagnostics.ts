/**
 * Diagnostics: every problem moec finds in a spec, with a stable code, a
 * position, a one-line message and an optional hint. Rendering for terminals
 * (source excerpt with a caret) and for tools (JSON) lives here too.
 */
import type { SourceFile, Span } from './source.ts';

export type Severity = 'error' | 'warning';

/**
 * Stable diagnostic codes. Codes never change meaning once shipped; tools
 * may match on them. E0xx: text and syntax. E1xx: keys and values. E2xx:
 * relations between values. W3xx: warnings.
 */
export const CODES = {
  E001: 'unexpected character',
  E002: 'unterminated string',
  E003: 'nesting too deep',
  E004: 'file too large',
  E010: 'syntax error',
  E011: 'unclosed block',
  E012: 'unexpected closing brace',
  E013: 'too many errors',
  E101: 'unknown key',
  E102: 'duplicate key',
  E103: 'wrong value type',
  E104: 'value out of range',
  E105: 'missing value',
  E106: 'too many values',
  E107: 'unknown choice',
  E108: 'block not allowed',
  E109: 'block required',
  E110: 'option does not apply',
  E111: 'missing required key',
  E201: 'top_k exceeds experts',
  E202: 'not divisible',
  E203: 'conflicting options',
  E204: 'unsupported combination',
  E205: 'too large for this tool',
  E206: 'does not fit the device',
  E207: 'loss has no meaning for this router',
  W301: 'non-causal router in a causal model',
  W302: 'option has no effect',
  W303: 'needs more than WebGPU guarantees',
} as const;

export type Code = keyof typeof CODES;

/** One problem in one file. */
export interface Diagnostic {
  readonly code: Code;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly hint?: string;
}

/** The JSON shape of a diagnostic for editors and tools (`--json`). */
export interface DiagnosticJson {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  length: number;
  code: Code;
  severity: Severity;
  message: string;
  hint?: string;
}

/** Collects diagnostics for one file; the check passes add to it. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];

  error(code: Code, span: Span, message: string, hint?: string): void {
    this.items.push({ code, severity: 'error', span, message, ...(hint ? { hint } : {}) });
  }

  warning(code: Code, span: Span, message: string, hint?: string): void {
    this.items.push({ code, severity: 'warning', span, message, ...(hint ? { hint } : {}) });
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }

  /** Diagnostics in file order, stable for equal positions. */
  sorted(): Diagnostic[] {
    return this.items
      .map((d, i) => ({ d, i }))
      .sort((a, b) => a.d.span.start - b.d.span.start || a.i - b.i)
      .map((x) => x.d);
  }
}

/** A diagnostic as the JSON object `--json` prints. */
export function diagnosticToJson(file: SourceFile, d: Diagnostic): DiagnosticJson {
  const start = file.position(d.span.start);
  const end = file.position(d.span.end);
  return {
    file: file.path,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
    length: Math.max(0, d.span.end - d.span.start),
    code: d.code,
    severity: d.severity,
    message: d.message,
    ...(d.hint ? { hint: d.hint } : {}),
  };
}

/**
 * Renders a diagnostic the way compilers do:
 *
 *     specs/x.moe:4:5: error E101: unknown key `capacity_factr`
 *       4 |     capacity_factr 1.25
 *         |     ^^^^^^^^^^^^^^
 *       hint: did you mean `capacity_factor`?
 */
export function formatDiagnostic(file: SourceFile, d: Diagnostic): string {
  const start = file.position(d.span.start);
  const end = file.position(d.span.end);
  const head = `${file.path}:${start.line}:${start.column}: ${d.severity} ${d.code}: ${d.message}`;
  const rawLine = file.lineText(start.line);
  // Long or binary lines are cut so that a 1 MB one-line file prints sanely.
  const window = 100;
  const from = Math.max(0, start.column - 1 - window / 2);
  const lineText = printable(rawLine.slice(from, from + window));
  const caretCol = start.column - 1 - from;
  const width = end.line === start.line ? Math.max(1, end.column - start.column) : Math.max(1, lineText.length - caretCol);
  const gutter = String(start.line);
  const pad = ' '.repeat(gutter.length);
  const lines = [
    head,
    `  ${gutter} | ${lineText}`,
    `  ${pad} | ${' '.repeat(Math.max(0, caretCol))}${'^'.repeat(Math.max(1, Math.min(width, window)))}`,
  ];
  if (d.hint) lines.push(`  ${pad}   hint: ${d.hint}`);
  return lines.join('\n');
}

/** Replaces control characters so an excerpt cannot garble the terminal. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\u00b7').replace(/\t/g, ' ');
}

/** A one-line summary: "2 errors, 1 warning". */
export function summarize(diagnostics: readonly Diagnostic[]): string {
  const e = diagnostics.filter((d) => d.severity === 'error').length;
  const w = diagnostics.length - e;
  return `${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`;
}

/** Past this many diagnostics in one file the rest are noise too. */
export const MAX_DIAGNOSTICS = 200;

/** Where a pass reports its diagnostics. */
export type Reporter = Pick<DiagnosticBag, 'error' | 'warning'>;

/**
 * A view of `bag` that adds nothing once the file has MAX_DIAGNOSTICS, and
 * says so once (E013). The grammar accepts almost anything, so junk reaches
 * the later passes: without this a 1 MB file of `1 1 1 ...` or `}}}...` gave
 * half a million diagnostics (over 150 MB of terminal output).
 */
export function capped(bag: DiagnosticBag): Reporter {
  const full = (span: Span): boolean => {
    if (bag.items.length < MAX_DIAGNOSTICS) return false;
    // Once per file, though each pass has its own view.
    if (!bag.items.some((d) => d.code === 'E013')) bag.error('E013', span, `more than ${MAX_DIAGNOSTICS} problems; stopped reporting here`, 'fix the first ones and check again');
    return true;
  };
  return {
    error: (code, span, message, hint) => {
      if (!full(span)) bag.error(code, span, message, hint);
    },
    warning: (code, span, message, hint) => {
      if (!full(span)) bag.warning(code, span, message, hint);
    },
  };
}
