/**
 * The `.moe` grammar (chevrotain CstParser). It is deliberately generic —
 * every line is `key value* (inline-key value*)* { ... }?` — so the parser
 * accepts anything brace-balanced and leaves precise, schema-aware messages
 * ("unknown key", "does not apply to expert_choice") to the checker.
 *
 *   file    := item*
 *   item    := entry | stray
 *   entry   := (Key | Identifier) value* (InlineKey value*)* block?
 *   block   := "{" item* "}"
 *   value   := NumberLiteral | StringLiteral | Identifier
 *   stray   := NumberLiteral | StringLiteral | "}" (only at top level) | block
 */
import { CstParser, type CstNode, type IRecognitionException, type IToken } from 'chevrotain';
import {
  ALL_TOKENS,
  Identifier,
  InlineKey,
  Key,
  LCurly,
  NumberLiteral,
  RCurly,
  StringLiteral,
} from './lexer.ts';

class MoeParser extends CstParser {
  constructor() {
    super(ALL_TOKENS, { recoveryEnabled: true, nodeLocationTracking: 'none', maxLookahead: 2 });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.item) },
        { ALT: () => this.CONSUME(RCurly, { LABEL: 'strayClose' }) },
      ]);
    });
  });

  item = this.RULE('item', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.entry) },
      { ALT: () => this.SUBRULE(this.stray) },
    ]);
  });

  entry = this.RULE('entry', () => {
    this.OR([
      { ALT: () => this.CONSUME(Key, { LABEL: 'key' }) },
      { ALT: () => this.CONSUME(Identifier, { LABEL: 'key' }) },
    ]);
    this.MANY(() => this.SUBRULE(this.value));
    this.MANY2(() => this.SUBRULE(this.inline));
    this.OPTION(() => this.SUBRULE(this.block));
  });

  inline = this.RULE('inline', () => {
    this.CONSUME(InlineKey, { LABEL: 'key' });
    this.MANY(() => this.SUBRULE(this.value));
  });

  block = this.RULE('block', () => {
    this.CONSUME(LCurly, { LABEL: 'open' });
    this.MANY(() => this.SUBRULE(this.item));
    this.CONSUME(RCurly, { LABEL: 'close' });
  });

  value = this.RULE('value', () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral, { LABEL: 'token' }) },
      { ALT: () => this.CONSUME(StringLiteral, { LABEL: 'token' }) },
      { ALT: () => this.CONSUME(Identifier, { LABEL: 'token' }) },
    ]);
  });

  stray = this.RULE('stray', () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral, { LABEL: 'token' }) },
      { ALT: () => this.CONSUME(StringLiteral, { LABEL: 'token' }) },
      { ALT: () => this.SUBRULE(this.block) },
    ]);
  });
}

/** One parser instance, reused (chevrotain parsers are stateful but resettable). */
const parser = new MoeParser();

/** The parser's base visitor class, for the CST-to-AST visitor. */
export const BaseCstVisitor = parser.getBaseCstVisitorConstructor();

/** Parses tokens into a CST; recognition errors are returned, never thrown. */
export function parseTokens(tokens: IToken[]): { cst: CstNode; errors: IRecognitionException[] } {
  parser.input = tokens;
  const cst = parser.file();
  return { cst, errors: [...parser.errors] };
}
