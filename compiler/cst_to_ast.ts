/**
 * Turns chevrotain's CST into the AST of ast.ts: spans, unescaped strings
 * and parsed numbers. Malformed literals are reported here.
 */
import type { CstNode, IToken } from 'chevrotain';
import type { Block, Document, Entry, Stray, Value } from './ast.ts';
import { BaseCstVisitor } from './parser.ts';
import type { Span } from './source.ts';
import type { Reporter } from './diagnostics.ts';

type Children = Record<string, (CstNode | IToken)[] | undefined>;

function tokens(children: Children, label: string): IToken[] {
  return (children[label] ?? []).filter((t): t is IToken => 'image' in t && !t.isInsertedInRecovery);
}

function nodes(children: Children, label: string): CstNode[] {
  return (children[label] ?? []).filter((n): n is CstNode => 'children' in n);
}

function spanOf(t: IToken): Span {
  return { start: t.startOffset, end: t.startOffset + t.image.length };
}

class AstBuilder extends BaseCstVisitor {
  constructor(private readonly diagnostics: Reporter) {
    super();
    this.validateVisitor();
  }

  file(ctx: Children): Document {
    const entries: Entry[] = [];
    const strays: Stray[] = [];
    for (const item of nodes(ctx, 'item')) this.item(item.children as Children, entries, strays);
    for (const t of tokens(ctx, 'strayClose')) {
      this.diagnostics.error('E012', spanOf(t), 'unexpected `}` with no block open', 'delete it, or add the `{` it was meant to close');
    }
    return { entries, strays };
  }

  item(ctx: Children, entries: Entry[], strays: Stray[]): void {
    const entry = nodes(ctx, 'entry')[0];
    if (entry) {
      const e = this.entry(entry.children as Children);
      if (e) entries.push(e);
      return;
    }
    const stray = nodes(ctx, 'stray')[0];
    if (stray) strays.push(this.stray(stray.children as Children));
  }

  entry(ctx: Children): Entry | undefined {
    const key = tokens(ctx, 'key')[0];
    if (!key) return undefined;
    const values = nodes(ctx, 'value').flatMap((v) => this.value(v.children as Children) ?? []);
    const inline = nodes(ctx, 'inline').flatMap((n) => this.entry(n.children as Children) ?? []);
    const blockNode = nodes(ctx, 'block')[0];
    const block = blockNode ? this.block(blockNode.children as Children) : undefined;
    const keySpan = spanOf(key);
    const last = block?.close ?? block?.open ?? inline.at(-1)?.span ?? values.at(-1)?.span ?? keySpan;
    return {
      key: key.image,
      keySpan,
      known: key.tokenType.name !== 'Identifier',
      values,
      inline,
      ...(block ? { block } : {}),
      span: { start: keySpan.start, end: last.end },
    };
  }

  inline(ctx: Children): Entry | undefined {
    return this.entry(ctx);
  }

  block(ctx: Children): Block {
    const entries: Entry[] = [];
    const strays: Stray[] = [];
    for (const item of nodes(ctx, 'item')) this.item(item.children as Children, entries, strays);
    const open = tokens(ctx, 'open')[0];
    const close = tokens(ctx, 'close')[0];
    const openSpan = open ? spanOf(open) : { start: 0, end: 0 };
    return { entries, strays, open: openSpan, ...(close ? { close: spanOf(close) } : {}) };
  }

  value(ctx: Children): Value | undefined {
    const t = tokens(ctx, 'token')[0];
    if (!t) return undefined;
    const span = spanOf(t);
    switch (t.tokenType.name) {
      case 'NumberLiteral':
        return { kind: 'number', text: t.image, value: Number(t.image), span };
      case 'StringLiteral':
        return { kind: 'string', text: t.image, value: unescape(t.image), span };
      case 'UnterminatedString':
        // Already reported (E002); read as if closed at the line's end.
        return { kind: 'string', text: t.image, value: unescape(`${t.image}"`), span };
      default:
        return { kind: 'word', text: t.image, value: t.image, span };
    }
  }

  stray(ctx: Children): Stray {
    const t = tokens(ctx, 'token')[0];
    if (t) return { text: t.image, span: spanOf(t) };
    const b = nodes(ctx, 'block')[0]!;
    const block = this.block(b.children as Children);
    return { text: '{', span: { start: block.open.start, end: (block.close ?? block.open).end } };
  }
}

/** `"a\"b\n"` → `a"b` + newline. Unknown escapes keep the escaped character. */
function unescape(quoted: string): string {
  const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
  return quoted.slice(1, -1).replace(/\\(.)/g, (_, c: string) => map[c] ?? c);
}

/** Builds the AST of a parsed file, reporting into `diagnostics`. */
export function cstToAst(cst: CstNode, diagnostics: Reporter): Document {
  return new AstBuilder(diagnostics).visit(cst) as Document;
}
