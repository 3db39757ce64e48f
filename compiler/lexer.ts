/**
 * Tokens of the `.moe` language (chevrotain). Every key of the schema is a
 * reserved word; keys that may be written inline before a block's brace
 * (`every`, `first_dense`, `segments`) are a sub-category so the parser can
 * attach them to the entry whose header they extend.
 */
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import { ALL_KEYS, INLINE_KEYS } from './schema.ts';

/** Longest first, so that `capacity_factor` is not read as `capacity`. */
function wordsPattern(words: readonly string[]): RegExp {
  const sorted = [...words].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.join('|'));
}

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

/** Category: any reserved key. */
export const Key = createToken({ name: 'Key', pattern: Lexer.NA });

/** Keys that may extend an entry's header (`ffn moe every 2 { ... }`). */
export const InlineKey = createToken({
  name: 'InlineKey',
  pattern: wordsPattern(INLINE_KEYS),
  longer_alt: Identifier,
  categories: [Key],
});

export const PlainKey = createToken({
  name: 'PlainKey',
  pattern: wordsPattern(ALL_KEYS.filter((k) => !INLINE_KEYS.includes(k))),
  longer_alt: Identifier,
  categories: [Key],
});

/** Decimal or scientific, optionally negative: 256, 1.25, 3e-3, -1. */
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/,
});

/** Double-quoted, with backslash escapes, on one line. */
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\r\n]|\\.)*"/ });

/**
 * A string not closed on its line, read to the line's end as one string value.
 * Otherwise the lexer would skip the `"` and read the string's words as keys
 * and values, burying the one real error under made-up ones.
 */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\r\n]|\\.)*\\?/,
  categories: [StringLiteral],
});

export const LCurly = createToken({ name: 'LCurly', pattern: /\{/ });
export const RCurly = createToken({ name: 'RCurly', pattern: /\}/ });

/** Includes U+FEFF: some editors start a UTF-8 file with it as a byte-order mark. */
export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\v\ufeff]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });

/** Token order matters: keys before identifiers, numbers before anything starting with `-`. */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace,
  Comment,
  LCurly,
  RCurly,
  StringLiteral,
  UnterminatedString,
  NumberLiteral,
  InlineKey,
  PlainKey,
  Key,
  Identifier,
];

export const moeLexer = new Lexer(ALL_TOKENS, {
  positionTracking: 'onlyOffset',
  ensureOptimizations: true,
});

/** A lexing problem at an offset (unexpected character, unterminated string). */
export interface LexProblem {
  offset: number;
  length: number;
  char: string;
}

/** Splits text into tokens; unknown characters and unclosed strings become problems, never exceptions. */
export function tokenize(text: string): { tokens: IToken[]; problems: LexProblem[] } {
  const result = moeLexer.tokenize(text);
  const problems = result.errors.map((e) => ({ offset: e.offset, length: e.length, char: text.charAt(e.offset) }));
  for (const t of result.tokens) {
    if (t.tokenType === UnterminatedString) problems.push({ offset: t.startOffset, length: t.image.length, char: '"' });
  }
  problems.sort((a, b) => a.offset - b.offset);
  return { tokens: result.tokens, problems };
}
