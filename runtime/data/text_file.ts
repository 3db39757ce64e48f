/**
 * Text training data, read byte by byte (vocabulary 256), with the last
 * `validation` fraction held out: any UTF-8 file (`--data FILE`), or a
 * built-in text (runtime/data/moby_dick.ts). Text that cannot make a batch
 * is rejected with a clear reason.
 */
import { readFileSync, statSync } from 'node:fs';
import { Rng } from '../rng.ts';
import { packSequences, type Batch, type DataSource } from './batch.ts';

export class DataError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'DataError';
  }
}

/** The largest --data file moec reads (it is held in memory whole). */
export const MAX_DATA_BYTES = 1 << 30;

/**
 * Training text held in memory, read byte by byte: the last `validation`
 * fraction is held out, and each batch's sequences start at seeded random
 * offsets (a pure function of the seed, split and batch index).
 */
export class TextCorpus implements DataSource {
  readonly languages: readonly string[] = [];
  readonly description: string;
  private readonly train: Uint8Array;
  private readonly validation: Uint8Array;

  /** `name` is what messages and reports call the text; `bytes` must be UTF-8 without NUL bytes. */
  constructor(
    name: string,
    bytes: Uint8Array,
    validationFraction: number,
    context: number,
    private readonly seed: number,
  ) {
    if (bytes.length === 0) throw new DataError(`${name} is empty`, 'training needs text');
    // The whole text is checked, not a prefix: binary content anywhere is refused.
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw new DataError(`${name} looks binary (a NUL byte at offset ${nul})`, 'moec trains on UTF-8 text');
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new DataError(`${name} is not valid UTF-8 text`, 'convert it to UTF-8 (e.g. iconv -t UTF-8)');
    }
    const cut = Math.floor(bytes.length * (1 - validationFraction));
    this.train = bytes.subarray(0, cut);
    this.validation = bytes.subarray(cut);
    const need = context + 1;
    if (this.train.length < need || this.validation.length < need) {
      throw new DataError(
        `${name} has ${bytes.length} bytes: too short for one sequence of ${need} bytes in both the training part and the held-out ${Math.round(validationFraction * 100)}%`,
        `use at least ${Math.ceil(need / Math.min(validationFraction, 1 - validationFraction))} bytes, or a smaller context`,
      );
    }
    this.description = `${name} (${bytes.length} bytes, ${this.validation.length} held out)`;
  }

  batch(split: 'train' | 'validation', index: number, batch: number, context: number): Batch {
    const data = split === 'train' ? this.train : this.validation;
    const rng = Rng.forName(this.seed, `file/${split}/${index}`);
    const seqs: Uint8Array[] = [];
    for (let b = 0; b < batch; b++) {
      const start = rng.int(data.length - context);
      seqs.push(data.subarray(start, start + context + 1));
    }
    return packSequences(seqs, new Array<number>(batch).fill(-1), context);
  }
}

/** `--data FILE`: a UTF-8 text file, refused with a reason when it cannot be one. */
export class TextFile extends TextCorpus {
  constructor(
    readonly path: string,
    validationFraction: number,
    context: number,
    seed: number,
  ) {
    super(path, readTextBytes(path), validationFraction, context, seed);
  }
}

function readTextBytes(path: string): Uint8Array {
  try {
    // stat never blocks: a FIFO or a device (/dev/zero) is refused before it is opened.
    const st = statSync(path);
    if (st.isDirectory()) throw new DataError(`${path} is a directory`, 'pass a UTF-8 text file');
    if (!st.isFile()) throw new DataError(`${path} is not a regular file (a pipe, socket or device)`, 'save the text to a file and pass that');
    if (st.size > MAX_DATA_BYTES) throw new DataError(`${path} has ${st.size} bytes; moec reads at most ${MAX_DATA_BYTES} (1 GiB) of training text`, 'train on a slice of it (e.g. head -c 500M FILE > part.txt)');
    return readFileSync(path);
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(`cannot read ${path}${code === 'ENOENT' ? ': no such file' : ` (${code})`}`, 'pass a UTF-8 text file, or leave out --data for the built-in corpus');
  }
}
