/**
 * Prints (or with --write, writes) editor/moe.tmLanguage.json, the TextMate
 * grammar generated from the schema.
 */
import { writeFileSync } from 'node:fs';
import { tmGrammar } from '../editor/textmate_grammar.ts';

if (process.argv.includes('--write')) {
  writeFileSync('editor/moe.tmLanguage.json', tmGrammar());
  console.log('updated editor/moe.tmLanguage.json');
} else process.stdout.write(tmGrammar());
