/**
 * Docs with a generated part between two marker lines: the scripts that
 * write them (language_reference.ts, ir_reference.ts) replace that part and
 * leave the hand-written rest alone.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** `doc` with the text from `begin` to `end` (markers included) replaced by `generated`, which carries the markers. */
export function withGenerated(doc: string, path: string, begin: string, end: string, generated: string): string {
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < 0) throw new Error(`${path} lacks the markers ${begin} ... ${end}`);
  return doc.slice(0, a) + generated + doc.slice(b + end.length);
}

/** Rewrites the generated part of the file at `path` and says so. */
export function writeGenerated(path: string, begin: string, end: string, generated: string): void {
  writeFileSync(path, withGenerated(readFileSync(path, 'utf8'), path, begin, end, generated));
  console.log(`updated ${path}`);
}
