/**
 * The built-in real-text corpus: Moby-Dick from the npm package, whole and in
 * order, with the closing chapters held out; chosen by `data moby_dick` in a
 * spec or `--data moby_dick` on the command line (`./moby_dick` is a file).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import { dataSourceFor } from '../../cli/train_command.ts';
import { mobyDick, mobyDickText } from '../../runtime/data/moby_dick.ts';

const spec = (data: string) => {
  const text = `model m { width 16 heads 2 depth 1 context 32 ffn dense { hidden 32 } }\ntrain { data ${data} batch 4 }\n`;
  const r = checkSpec(text, 'm.moe');
  if (!r.spec) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.spec;
};

describe('the built-in real text', () => {
  it('is the whole book, in order, as UTF-8 prose', () => {
    const text = new TextDecoder().decode(mobyDickText());
    expect(text.length).toBeGreaterThan(1_100_000);
    expect(text.indexOf('Call me Ishmael.')).toBeGreaterThan(0);
    expect(text.indexOf('CHAPTER 1. Loomings.')).toBeLessThan(text.indexOf('CHAPTER 2. The Carpet-Bag.'));
    expect(text.lastIndexOf('Epilogue')).toBeGreaterThan(text.length * 0.99);
  });

  it('holds out the end of the book and gives the same batches for the same seed', () => {
    const a = mobyDick(0.1, 32, 1);
    const b = mobyDick(0.1, 32, 1);
    expect(a.description).toMatch(/Moby-Dick.*bytes, \d+ held out/);
    const x = a.batch('validation', 3, 4, 32);
    expect(b.batch('validation', 3, 4, 32).tokens).toEqual(x.tokens);
    expect(a.batch('train', 3, 4, 32).tokens).not.toEqual(x.tokens);
    // Targets are the tokens shifted by one.
    expect(x.targets.subarray(0, 31)).toEqual(x.tokens.subarray(1, 32));
    const c = mobyDick(0.1, 32, 2);
    expect(c.batch('train', 0, 4, 32).tokens).not.toEqual(a.batch('train', 0, 4, 32).tokens);
  });

  it('is chosen by `data moby_dick` in a spec and by --data moby_dick', () => {
    expect(spec('moby_dick').train.data).toEqual({ kind: 'moby_dick' });
    expect(dataSourceFor(spec('moby_dick'), undefined).description).toMatch(/^Moby-Dick/);
    expect(dataSourceFor(spec('synthetic'), 'moby_dick').description).toMatch(/^Moby-Dick/);
    expect(dataSourceFor(spec('moby_dick'), 'synthetic').languages.length).toBeGreaterThan(1);
    // A path that happens to be called moby_dick is a file.
    const dir = mkdtempSync(join(tmpdir(), 'moec-moby-'));
    writeFileSync(join(dir, 'moby_dick'), 'x'.repeat(4000));
    expect(dataSourceFor(spec('synthetic'), join(dir, 'moby_dick')).description).toMatch(/moby_dick \(4000 bytes/);
  });
});
