/**
 * The language's vocabulary is consistent and documented: keys never collide
 * with value words, and docs/LANGUAGE.md carries the generated reference of
 * every key and diagnostic code.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CODES } from '../../compiler/diagnostics.ts';
import { ALL_CHOICES, ALL_KEYS, SECTIONS } from '../../compiler/schema.ts';
import { languageReference } from '../../scripts/language_reference.ts';

describe('schema', () => {
  it('no value word is also a key (keys are reserved words)', () => {
    expect(ALL_CHOICES.filter((c) => ALL_KEYS.includes(c))).toEqual([]);
  });

  it('every key has a doc line and an example that uses it', () => {
    for (const keys of Object.values(SECTIONS)) {
      for (const k of keys) {
        expect(k.doc.length).toBeGreaterThan(10);
        expect(k.example).toContain(k.key);
      }
    }
  });
});

describe('docs/LANGUAGE.md', () => {
  const doc = readFileSync('docs/LANGUAGE.md', 'utf8');

  it('holds the up-to-date generated reference (run: npx tsx scripts/language_reference.ts --write)', () => {
    expect(doc).toContain(languageReference());
  });

  it('mentions every key and every diagnostic code', () => {
    for (const key of ALL_KEYS) expect(doc).toContain(`\`${key}\``);
    for (const code of Object.keys(CODES)) expect(doc).toContain(code);
  });
});
