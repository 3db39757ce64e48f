/**
 * A batch of next-token training data: `tokens` [batch·context] and
 * `targets` (the same text shifted by one), plus, for the built-in corpus,
 * which sub-language each sequence came from.
 */
export interface Batch {
  readonly tokens: Int32Array;
  readonly targets: Int32Array;
  /** Per sequence: index into the source's `languages`, or -1 when unknown (files). */
  readonly languages: Int8Array;
}

/** Where batches come from. Batches are a pure function of (split, index): resuming needs no data state. */
export interface DataSource {
  /** Short description for logs and reports. */
  readonly description: string;
  /** Names of the sub-languages (empty for a file). */
  readonly languages: readonly string[];
  batch(split: 'train' | 'validation', index: number, batch: number, context: number): Batch;
}

/** Packs sequences of context+1 bytes into tokens and targets. */
export function packSequences(sequences: readonly Uint8Array[], languages: readonly number[], context: number): Batch {
  const B = sequences.length;
  const tokens = new Int32Array(B * context);
  const targets = new Int32Array(B * context);
  sequences.forEach((s, b) => {
    for (let i = 0; i < context; i++) {
      tokens[b * context + i] = s[i]!;
      targets[b * context + i] = s[i + 1]!;
    }
  });
  return { tokens, targets, languages: Int8Array.from(languages) };
}
