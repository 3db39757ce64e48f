/**
 * Text to AST: lexing, a nesting guard, parsing with recovery, and the CST
 * visitor, with every problem reported as a diagnostic.
 */
import type { IRecognitionException, IToken } from 'chevrotain';
import type { Document } from './ast.ts';
import { cstToAst } from './cst_to_ast.ts';
import { capped, type DiagnosticBag } from './diagnostics.ts';
import { tokenize } from './lexer.ts';
import { parseTokens } from './parser.ts';

/** Deeper nesting than any real spec needs; guards the recursive parser. */
export const MAX_NESTING = 16;
/** Larger than any real spec; a bigger file is almost surely the wrong file. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Past this many syntax errors the rest are noise. */
const MAX_SYNTAX_ERRORS = 50;

/** Parses spec text into an AST, or undefined when the text cannot be parsed at all. */
export function parseSpec(text: string, diagnostics: DiagnosticBag): Document | undefined {
  if (text.length > MAX_FILE_BYTES) {
    diagnostics.error('E004', { start: 0, end: 0 }, `file is ${text.length} characters; specs are limited to ${MAX_FILE_BYTES}`, 'is this the right file?');
    return undefined;
  }
  const { tokens, problems } = tokenize(text);
  let reported = 0;
  for (const p of problems) {
    if (reported++ >= MAX_SYNTAX_ERRORS) break;
    if (p.char === '"') {
      diagnostics.error('E002', { start: p.offset, end: lineEnd(text, p.offset) }, 'string is not closed on this line', 'add the closing `"`');
    } else {
      const shown = describeChar(text.codePointAt(p.offset) ?? 0);
      diagnostics.error('E001', { start: p.offset, end: p.offset + p.length }, `unexpected character ${shown}`, 'keys and names use letters, digits and `_`; comments start with `#`');
    }
  }
  const nesting = checkNesting(tokens, diagnostics);
  if (nesting === 'too deep') return undefined;
  const { cst, errors } = parseTokens(tokens);
  // An unclosed block is reported at its `{`; the parser's end-of-file complaint would repeat it.
  reportSyntaxErrors(nesting === 'unclosed' ? errors.filter((e) => !atEnd(e)) : errors, text, diagnostics);
  return cstToAst(cst, capped(diagnostics));
}

/**
 * `"$"`, with the code point for anything but printable ASCII: a no-break
 * space or a zero-width space would otherwise print as " " or "".
 */
function describeChar(code: number): string {
  const shown = JSON.stringify(String.fromCodePoint(code));
  return code > 0x20 && code < 0x7f ? shown : `${shown} (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl;
}

/**
 * Rejects absurd nesting before the recursive parser sees it, and reports
 * each `{` that is never closed at its own position.
 */
function checkNesting(tokens: IToken[], diagnostics: DiagnosticBag): 'ok' | 'too deep' | 'unclosed' {
  const open: IToken[] = [];
  for (const t of tokens) {
    if (t.image === '{') {
      open.push(t);
      if (open.length > MAX_NESTING) {
        diagnostics.error('E003', { start: t.startOffset, end: t.startOffset + 1 }, `blocks nested more than ${MAX_NESTING} deep`, 'a spec needs at most 4 levels: model > ffn > route/experts');
        return 'too deep';
      }
    } else if (t.image === '}') {
      open.pop();
    }
  }
  for (const t of open.slice(0, 5)) {
    diagnostics.error('E011', { start: t.startOffset, end: t.startOffset + 1 }, 'this `{` is never closed', 'add the matching `}`');
  }
  return open.length > 0 ? 'unclosed' : 'ok';
}

function atEnd(e: IRecognitionException): boolean {
  return e.token.tokenType.name === 'EOF' || Number.isNaN(e.token.startOffset);
}

function reportSyntaxErrors(errors: IRecognitionException[], text: string, diagnostics: DiagnosticBag): void {
  let count = 0;
  for (const e of errors) {
    if (count++ >= MAX_SYNTAX_ERRORS) {
      diagnostics.error('E013', { start: text.length, end: text.length }, `more than ${MAX_SYNTAX_ERRORS} syntax errors; stopped reporting`);
      return;
    }
    const t = e.token;
    if (atEnd(e)) {
      const end = text.length;
      diagnostics.error('E011', { start: end, end }, 'file ends inside a block', 'a `}` is missing; each `{` needs one');
    } else {
      diagnostics.error('E010', { start: t.startOffset, end: t.startOffset + t.image.length }, `unexpected \`${t.image}\``, 'expected a key, a value, `{` or `}`');
    }
  }
}

/** Re-exported for callers that only need the AST types. */
export type { Document };
