/**
 * The TextMate grammar of `.moe` files (editor/moe.tmLanguage.json), built
 * from the schema so every key and value word is highlighted and none is
 * missed when the language grows. `npx tsx scripts/tm_grammar.ts --write`
 * regenerates the file; a test fails when it is stale.
 */
import { ALL_CHOICES, ALL_KEYS } from '../compiler/schema.ts';

const words = (ws: readonly string[]) => `\\b(?:${[...ws].sort((a, b) => b.length - a.length || a.localeCompare(b)).join('|')})\\b`;

/** The grammar as JSON text (stable formatting, so the file diffs). */
export function tmGrammar(): string {
  const grammar = {
    $schema: 'https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json',
    name: 'moe',
    scopeName: 'source.moe',
    fileTypes: ['moe'],
    patterns: [
      { name: 'comment.line.number-sign.moe', match: '#.*$' },
      { name: 'string.quoted.double.moe', begin: '"', end: '"|$' },
      { name: 'keyword.other.key.moe', match: words(ALL_KEYS) },
      { name: 'constant.language.value.moe', match: words(ALL_CHOICES) },
      { name: 'constant.numeric.moe', match: '-?\\b\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?\\b' },
      { name: 'punctuation.section.block.moe', match: '[{}]' },
      { name: 'entity.name.moe', match: '\\b[A-Za-z_][A-Za-z0-9_]*\\b' },
    ],
  };
  return `${JSON.stringify(grammar, null, 2)}\n`;
}
