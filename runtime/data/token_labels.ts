/**
 * What the training report groups tokens by when it shows which expert
 * takes which part of the text: the built-in synthetic corpus's
 * sub-languages (every token of a sequence has its sequence's language),
 * and for real text (moby_dick, a file) the kind of byte each token is.
 */
import type { Batch, DataSource } from './batch.ts';

/** Kinds of bytes in real text. */
export const BYTE_CLASSES = ['lower-case letter', 'capital letter', 'space or newline', 'digit', 'punctuation', 'other (UTF-8, control)'] as const;

/** The index in BYTE_CLASSES of one byte. */
export function byteClass(b: number): number {
  if (b >= 97 && b <= 122) return 0;
  if (b >= 65 && b <= 90) return 1;
  if (b === 32 || b === 10 || b === 13 || b === 9) return 2;
  if (b >= 48 && b <= 57) return 3;
  if (b > 32 && b < 127) return 4;
  return 5;
}

/** The label names of a source, and what they are. */
export function labelsOf(source: DataSource): { readonly kind: 'sub-language' | 'kind of byte'; readonly names: readonly string[] } {
  return source.languages.length ? { kind: 'sub-language', names: source.languages } : { kind: 'kind of byte', names: BYTE_CLASSES };
}

/** One label per token of a batch of sequences of `seq` tokens (indices into labelsOf(source).names). */
export function tokenLabels(source: DataSource, batch: Batch, seq: number): Int8Array {
  const n = batch.tokens.length;
  const out = new Int8Array(n);
  if (source.languages.length) for (let t = 0; t < n; t++) out[t] = batch.languages[Math.floor(t / seq)]!;
  else for (let t = 0; t < n; t++) out[t] = byteClass(batch.tokens[t]!);
  return out;
}
