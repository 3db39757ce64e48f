/**
 * The built-in synthetic corpus: a mixture of four sub-languages with
 * different alphabets and rules, generated on the fly from a seed, so expert
 * specialisation is measurable (which expert handles which sub-language) and
 * a small model's loss falls quickly. Each sequence comes from one
 * sub-language, starting at a random point of its stream.
 *
 * - arithmetic: `17+5=22;` — sums of numbers below 100, digits and `+=;`;
 * - reversal: `stone|enots.` — a lowercase word, `|`, the word reversed, `.`;
 * - repetition: `QZK QZK QZK ` — an uppercase pattern repeated;
 * - chatter: a fixed random bigram language over the bytes `!"#$%&'()*,-/:<>?@[]^_{}~`.
 */
import { Rng } from '../rng.ts';
import { packSequences, type Batch, type DataSource } from './batch.ts';

export const SUB_LANGUAGES = ['arithmetic', 'reversal', 'repetition', 'chatter'] as const;

const CHATTER = '!"#$%&\'()*,-/:<>?@[]^_{}~';

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

/** The chatter bigram table: each symbol has 3 likely successors (fixed, independent of the run's seed). */
function chatterTable(): number[][] {
  const rng = new Rng(20261128, 7);
  return [...CHATTER].map(() => [0, 1, 2].map(() => rng.int(CHATTER.length)));
}
const TABLE = chatterTable();

/** Appends one "sentence" of sub-language `lang` to `out`. */
function sentence(lang: number, rng: Rng, out: number[]): void {
  switch (lang) {
    case 0: {
      const a = rng.int(100);
      const b = rng.int(100);
      out.push(...ascii(`${a}+${b}=${a + b};`));
      break;
    }
    case 1: {
      const n = 3 + rng.int(5);
      const w = Array.from({ length: n }, () => String.fromCharCode(97 + rng.int(26))).join('');
      out.push(...ascii(`${w}|${[...w].reverse().join('')}.`));
      break;
    }
    case 2: {
      const n = 2 + rng.int(4);
      const p = Array.from({ length: n }, () => String.fromCharCode(65 + rng.int(26))).join('');
      const times = 3 + rng.int(4);
      out.push(...ascii(`${p} `.repeat(times)));
      break;
    }
    default: {
      let s = rng.int(CHATTER.length);
      const n = 8 + rng.int(16);
      for (let i = 0; i < n; i++) {
        out.push(CHATTER.charCodeAt(s));
        s = rng.uniform() < 0.9 ? TABLE[s]![rng.int(3)]! : rng.int(CHATTER.length);
      }
      out.push(10);
    }
  }
}

/** One sequence of `length` bytes of sub-language `lang`, starting mid-stream. */
export function synthesize(lang: number, rng: Rng, length: number): Uint8Array {
  const out: number[] = [];
  const skip = rng.int(24);
  while (out.length < length + skip) sentence(lang, rng, out);
  return Uint8Array.from(out.slice(skip, skip + length));
}

export class SyntheticCorpus implements DataSource {
  readonly description = 'built-in synthetic corpus (arithmetic, reversal, repetition, chatter)';
  readonly languages = SUB_LANGUAGES;

  constructor(private readonly seed: number) {}

  batch(split: 'train' | 'validation', index: number, batch: number, context: number): Batch {
    const rng = Rng.forName(this.seed, `synthetic/${split}/${index}`);
    const seqs: Uint8Array[] = [];
    const langs: number[] = [];
    for (let b = 0; b < batch; b++) {
      // Round-robin languages so every batch holds all of them in equal shares.
      const lang = (b + index) % SUB_LANGUAGES.length;
      langs.push(lang);
      seqs.push(synthesize(lang, rng, context + 1));
    }
    return packSequences(seqs, langs, context);
  }
}
