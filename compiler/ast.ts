/**
 * The syntax tree of a `.moe` file: entries of `key values { block }`,
 * with spans for every part. It knows nothing of what keys mean.
 */
import type { Span } from './source.ts';

/** A value written after a key. */
export interface Value {
  readonly kind: 'number' | 'string' | 'word';
  /** The source text (for strings, with quotes). */
  readonly text: string;
  /** Parsed number, unescaped string, or the word itself. */
  readonly value: number | string;
  readonly span: Span;
}

/** `key values (inline-key values)* { entries }` */
export interface Entry {
  readonly key: string;
  readonly keySpan: Span;
  /** True when the key is a reserved word, false when it is an unknown identifier. */
  readonly known: boolean;
  readonly values: Value[];
  /** Inline keys written before the brace, e.g. `every 2` in `ffn moe every 2 { }`. */
  readonly inline: Entry[];
  readonly block?: Block;
  /** From the key to the end of the last value or the closing brace. */
  readonly span: Span;
}

/** `{ entries }` */
export interface Block {
  readonly entries: Entry[];
  /** Values or blocks that stood where a key was expected. */
  readonly strays: Stray[];
  readonly open: Span;
  /** Absent when the file ended before the closing brace. */
  readonly close?: Span;
}

/** Something where a key was expected. */
export interface Stray {
  readonly text: string;
  readonly span: Span;
}

/** A whole file: its top-level entries (normally `model` and `train`). */
export interface Document {
  readonly entries: Entry[];
  readonly strays: Stray[];
}
