/**
 * Bad input, one mistake per spec: each row asserts the exact code, line and
 * column of the diagnostic (the offending token), where it matters the hint's
 * suggestion, and that the mistake causes no other, made-up errors. Then a
 * file with several mistakes (all reported in one run) and the shipped specs
 * (no errors at all).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../compiler/compile.ts';
import type { Code, Diagnostic } from '../../compiler/diagnostics.ts';
import { MAX_FILE_BYTES } from '../../compiler/syntax.ts';

/**
 * Spec text written indented in this file: drops the first line break and
 * the first line's indentation from every line, so that lines and columns
 * count as in a file starting at `model`.
 */
function moe(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((text, s, i) => text + s + (i < values.length ? String(values[i]) : ''), '');
  const lines = raw.replace(/^\n/, '').replace(/\n[ \t]*$/, '\n').split('\n');
  const indent = /^[ \t]*/.exec(lines[0]!)![0];
  return lines.map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l)).join('\n');
}

interface Case {
  name: string;
  text: string;
  code: Code;
  line: number;
  column: number;
  /** A substring the hint must contain. */
  hint?: string;
  /** A substring the message must contain. */
  message?: string;
  /** Warnings leave the spec usable. */
  severity?: 'warning';
  /** Codes of other diagnostics the mistake rightly causes; anything else is a cascade. */
  others?: Code[];
}

// The base, specs/switch.moe without its comment, with line numbers for reading the rows:
//
//   1 model switch {
//   2   vocab 256  context 64  width 64  depth 2  heads 4
//   3   ffn moe every 1 {
//   4     experts 8 { hidden 128  activation gelu }
//   5     route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
//   6   }
//   7 }
//   8 train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
const cases: Case[] = [
  // --- E0xx: text and syntax ---------------------------------------------
  {
    name: 'E001 a `:` after a key',
    text: moe`
      model switch {
        vocab 256  context 64  width: 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E001',
    line: 2,
    column: 31,
    message: 'unexpected character ":"',
  },
  {
    name: 'E001 a NUL byte between entries',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2 \u0000 heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E001',
    line: 2,
    column: 44,
    message: '"\\u0000"',
  },
  {
    name: 'E001 a no-break space names its code point',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E001',
    line: 2,
    column: 31,
    message: 'U+00A0',
  },
  {
    name: 'E001 an en dash for a minus sign',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss \u20130.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E001',
    line: 5,
    column: 70,
  },
  {
    name: 'E002 an unclosed string (its words are not read as keys)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train {
        data "corpus.txt
        batch 16
      }
    `,
    code: 'E002',
    line: 9,
    column: 8,
    hint: 'closing `"`',
  },
  {
    name: 'E003 blocks nested 17 deep',
    text: moe`
      model deep {
        ffn moe { experts 8 { a { b { c { d { e { f { g { h { i { j { k { l { m { n { o { } } } } } } } } } } } } } } } } } }
      }
    `,
    code: 'E003',
    line: 2,
    column: 79,
  },
  {
    name: 'E004 a file over the size limit',
    text: '#'.repeat(MAX_FILE_BYTES + 1),
    code: 'E004',
    line: 1,
    column: 1,
  },
  {
    name: 'E010 a value where a key belongs (the `data` key forgotten)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { "corpus.txt"  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E010',
    line: 8,
    column: 9,
    hint: 'a line starts with a key',
  },
  {
    name: 'E011 the last `}` missing (reported at its `{`)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1
    `,
    code: 'E011',
    line: 8,
    column: 7,
  },
  {
    name: 'E012 one `}` too many',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }}
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E012',
    line: 7,
    column: 2,
  },
  {
    name: 'E013 reporting stops after 200 problems',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
      ${'train { }\n'.repeat(250)}
    `,
    code: 'E013',
    // The 201st duplicate `train` (line 9 holds the first).
    line: 209,
    column: 1,
    others: ['E102'],
  },

  // --- E1xx: keys and values -----------------------------------------------
  {
    name: 'E101 a misspelled route key',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factr 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 5,
    column: 35,
    hint: 'did you mean `capacity_factor`?',
  },
  {
    name: 'E101 a misspelled experts key',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hiden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 4,
    column: 17,
    hint: 'did you mean `hidden`?',
  },
  {
    name: 'E101 a misspelled inline key keeps its block',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe evry 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 3,
    column: 11,
    hint: 'did you mean `every`?',
  },
  {
    name: 'E101 a misspelled inline key after an optional value',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 segmnts 2 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 4,
    column: 15,
    hint: 'did you mean `segments`?',
  },
  {
    name: 'E101 a route key in the model block',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4  top_k 2
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 2,
    column: 54,
    hint: '`top_k` belongs in a `route { ... }` block',
  },
  {
    name: 'E101 `hidden` in the route block names every block it belongs in',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { activation gelu }
          route token_choice { hidden 128  top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 5,
    column: 26,
    hint: 'an `experts { ... }` block',
  },
  {
    name: 'E101 a router preset written as a key',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1 }
          expert_choice { capacity_factor 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 6,
    column: 5,
    hint: 'routers are chosen with `route expert_choice { ... }`',
  },
  {
    name: 'E101 an unknown top-level section',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      trian { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 8,
    column: 1,
    message: 'at the top level',
    hint: 'did you mean `train`?',
  },
  {
    name: 'E101 a train key at the top level',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      optimizer adamw { lr 3e-3 }
    `,
    code: 'E101',
    line: 8,
    column: 1,
    hint: '`optimizer` belongs in the `train` block',
  },
  {
    name: 'E101 an unknown key takes its inline keys with it',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffx moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E101',
    line: 3,
    column: 3,
    hint: 'did you mean `ffn`?',
    // The model then has no ffn; `every` is not reported as a second unknown key.
    others: ['E111'],
  },
  {
    name: 'E102 a key set twice',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
        depth 3
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E102',
    line: 7,
    column: 3,
    hint: 'first set on line 2',
  },
  {
    name: 'E103 a quoted number',
    text: moe`
      model switch {
        vocab 256  context 64  width "64"  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E103',
    line: 2,
    column: 32,
    message: 'expects an integer',
  },
  {
    name: 'E103 a fraction where an integer belongs',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2.5  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E103',
    line: 2,
    column: 42,
  },
  {
    name: 'E103 `yes` for a boolean',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4  tie_embeddings yes
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E103',
    line: 2,
    column: 69,
    message: 'expects true or false',
  },
  {
    name: 'E103 a number for the model name',
    text: moe`
      model 42 {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E103',
    line: 1,
    column: 7,
  },
  {
    name: 'E104 a negative loss coefficient',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss -0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 5,
    column: 70,
    hint: 'number >= 0',
  },
  {
    name: 'E104 a zero capacity_factor',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 0  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 5,
    column: 51,
    hint: 'write `capacity none`',
  },
  {
    name: 'E104 a number past float range (1e400)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1e400  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 5,
    column: 51,
    message: '`1e400` is too large for `capacity_factor`',
  },
  {
    name: 'E104 a negative number past float range (-1e400)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor -1e400  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 5,
    column: 51,
    message: '`-1e400` is too small for `capacity_factor`',
  },
  {
    name: 'E104 too many experts',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 2000 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 4,
    column: 13,
    hint: 'integer 1..1024',
  },
  {
    name: 'E104 an integer past 2^64',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 99999999999999999999 }
    `,
    code: 'E104',
    line: 8,
    column: 80,
    hint: 'integer 0..2147483647',
  },
  {
    name: 'E104 a zero depth',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 0  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 2,
    column: 42,
    hint: 'integer 1..128',
  },
  {
    name: 'E104 a bad value does not also fail a relation checked against its default',
    text: moe`
      model switch {
        vocab 256  context 64  width 30000  depth 2  heads 6
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 2,
    column: 32,
  },
  {
    name: 'E104 a bad experts count does not also fail top_k against the default count',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 2000 { hidden 128  activation gelu }
          route token_choice { top_k 9  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 4,
    column: 13,
    // top_k > 1 with a capacity: a token's later choices compete with later tokens' first ones.
    others: ['W301'],
  },
  {
    name: 'E104 a bad group is not checked against batch',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route mixture_of_tokens { group 0 }
        }
      }
      train { data synthetic  batch 12  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E104',
    line: 5,
    column: 37,
  },
  {
    name: 'E105 a key without its value',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E105',
    line: 5,
    column: 26,
    hint: 'e.g. `top_k 2`',
  },
  {
    name: 'E106 one value too many',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2 3  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E106',
    line: 2,
    column: 44,
  },
  {
    name: 'E107 a misspelled activation',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelo }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E107',
    line: 4,
    column: 40,
    hint: 'did you mean `gelu`?',
  },
  {
    name: 'E107 a misspelled router',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choise { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E107',
    line: 5,
    column: 11,
    hint: 'did you mean `token_choice`?',
  },
  {
    name: 'E107 a misspelled ffn kind (its block is not judged as dense)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn mo every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E107',
    line: 3,
    column: 7,
    hint: 'did you mean `moe`?',
  },
  {
    name: 'E107 a misspelled optimizer (its settings are not judged as adamw)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer sgdd { lr 3e-3  momentum 0.9 }  seed 1 }
    `,
    code: 'E107',
    line: 8,
    column: 56,
    hint: 'did you mean `sgd`?',
  },
  {
    name: 'E107 a misspelled experts kind (rank is not judged as on full experts)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 lorra { hidden 128  activation gelu  rank 4 }
          route soft_merge { }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E107',
    line: 4,
    column: 15,
    hint: 'did you mean `lora`?',
  },
  {
    name: 'E108 a block after a plain value',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2 { }  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E108',
    line: 2,
    column: 44,
  },
  {
    name: 'E109 train without its block',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train
    `,
    code: 'E109',
    line: 8,
    column: 1,
  },
  {
    name: 'E109 ffn without its block (no made-up "missing experts")',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E109',
    line: 3,
    column: 3,
  },
  {
    name: 'E110 a router option the router does not have',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { slots 2  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E110',
    line: 5,
    column: 26,
    message: 'does not apply to the `token_choice` router',
    hint: 'it applies to soft and core',
  },
  {
    name: 'E110 top_k on a core router that selects by expert',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route core { select expert_choice  top_k 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E110',
    line: 5,
    column: 40,
    others: ['W301'],
  },
  {
    name: 'E110 rank on full (not lora) experts',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu  rank 4 }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E110',
    line: 4,
    column: 46,
    hint: '`experts N lora { rank 4 }`',
  },
  {
    name: 'E110 hidden in an MoE ffn block',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          hidden 256
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E110',
    line: 4,
    column: 5,
    hint: 'inside `experts { ... }`',
  },
  {
    name: 'E110 momentum with adamw',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3  momentum 0.9 }  seed 1 }
    `,
    code: 'E110',
    line: 8,
    column: 73,
    hint: 'momentum is an sgd setting',
  },
  {
    name: 'E110 experts in a dense ffn',
    text: moe`
      model dense {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn dense { hidden 256  experts 8 }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E110',
    line: 3,
    column: 27,
    message: 'applies only to `ffn moe`',
  },
  {
    name: 'E111 no model at all',
    text: moe`
      # only training settings here
      train { data synthetic  batch 16  steps 300 }
    `,
    code: 'E111',
    line: 1,
    column: 1,
  },
  {
    name: 'E111 a model without ffn (reported at the model block)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E111',
    line: 1,
    column: 14,
  },
  {
    name: 'E111 an MoE ffn without route (reported at its block)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E111',
    line: 3,
    column: 19,
    message: 'needs a `route` line',
  },

  // --- E2xx: relations between values ------------------------------------------
  {
    name: 'E201 top_k above the expert count',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 9  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E201',
    line: 5,
    column: 32,
    hint: 'at most the expert count (8)',
    // top_k > 1 with a capacity: a token's later choices compete with later tokens' first ones.
    others: ['W301'],
  },
  {
    name: 'E202 heads that do not divide width',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 5
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E202',
    line: 2,
    column: 51,
    hint: 'try heads 4',
  },
  {
    name: 'E202 hidden not divisible by segments',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 segments 3 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E202',
    line: 4,
    column: 24,
    message: 'segments 3 does not divide hidden 128',
    // top_k > 1 with a capacity: a token's later choices compete with later tokens' first ones.
    others: ['W301'],
  },
  {
    name: 'E202 a token group that does not divide batch',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route mixture_of_tokens { group 5 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E202',
    line: 5,
    column: 37,
    message: 'group 5 does not divide the batch 16',
  },
  {
    name: 'E202 the default group (8) and a batch of 12 (reported at the router)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route mixture_of_tokens { temperature 1.0 }
        }
      }
      train { data synthetic  batch 12  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E202',
    line: 5,
    column: 11,
    message: 'group 8 does not divide the batch 12',
  },
  {
    name: 'E202 rotary with an odd head size',
    text: moe`
      model switch {
        vocab 256  context 64  width 12  depth 2  heads 4  position rotary
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E202',
    line: 2,
    column: 63,
    message: 'width/heads is 3',
  },
  {
    name: 'E203 capacity none together with capacity_factor',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity none  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E203',
    line: 5,
    column: 35,
  },
  {
    name: 'E203 sigmoid scores with normalize per_token in core',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route core { score sigmoid  normalize per_token  top_k 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E203',
    line: 5,
    column: 43,
    hint: 'write `normalize none`',
    // top_k > 1 with a capacity: a token's later choices compete with later tokens' first ones.
    others: ['W301'],
  },
  {
    name: 'E203 softmax scores with normalize none in core',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route core { score softmax  normalize none  top_k 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E203',
    line: 5,
    column: 43,
    message: 'softmax always normalizes',
    // top_k > 1 with a capacity: a token's later choices compete with later tokens' first ones.
    others: ['W301'],
  },
  {
    name: 'E107 a misspelled core score does not also contradict normalize',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route core { score sigmod  normalize none  top_k 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E107',
    line: 5,
    column: 24,
    hint: 'did you mean `sigmoid`?',
    // top_k > 1 with a capacity: a token's later choices compete with later tokens' first ones.
    others: ['W301'],
  },
  {
    name: 'E203 a vocabulary smaller than the bytes of the data',
    text: moe`
      model switch {
        vocab 100  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E203',
    line: 2,
    column: 9,
  },
  {
    name: 'E204 lora experts with a mixing router',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 lora { hidden 128  activation gelu }
          route soft { slots 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E204',
    line: 4,
    column: 15,
    others: ['W301'],
  },
  {
    name: 'E204 segments of ia3 experts',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 ia3 segments 2 { hidden 128  activation gelu }
          route soft_merge { }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E204',
    line: 4,
    column: 28,
  },
  {
    name: 'E204 combine mix with select expert_choice',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route core { combine mix  select expert_choice }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E204',
    line: 5,
    column: 38,
    message: 'combine mix needs select all',
    others: ['W301'],
  },
  {
    name: 'E205 a model too large for one buffer',
    text: moe`
      model huge {
        vocab 65536  context 8192  width 16384  depth 2  heads 4
        ffn dense { hidden 256 }
      }
      train { batch 4096 }
    `,
    code: 'E205',
    line: 2,
    column: 30,
    hint: 'reduce batch, context, width or experts',
  },
  {
    name: 'E205 one expert tensor too large, pointed at the key that sets it',
    text: moe`
      model huge {
        vocab 256  context 64  width 8192  depth 2  heads 4
        ffn moe every 1 {
          experts 64 { hidden 8192 }
          route token_choice { top_k 1 }
        }
      }
    `,
    code: 'E205',
    line: 4,
    column: 18,
    message: '`blocks.0.moe.experts.up.weight` [64, 8192, 8192]',
    hint: 'reduce hidden or experts',
  },

  // --- W3xx: warnings -------------------------------------------------------------
  {
    name: 'W301 expert choice is not causal',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route expert_choice { capacity_factor 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'W301',
    line: 5,
    column: 11,
    severity: 'warning',
  },
  {
    name: 'W301 soft MoE is not causal',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route soft { slots 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'W301',
    line: 5,
    column: 11,
    severity: 'warning',
    message: 'each slot mixes a whole sequence',
  },
  {
    name: 'W302 every larger than depth (no MoE block at all)',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 3 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'W302',
    line: 3,
    column: 11,
    severity: 'warning',
  },
  {
    name: 'W302 renormalize with top_k 1',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  renormalize true  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'W302',
    line: 5,
    column: 35,
    severity: 'warning',
    hint: 'use top_k 2',
  },
  // --- routing algebra -------------------------------------------------------
  {
    name: 'E203 softmax after top-k with sigmoid scores',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { score sigmoid  top_k 2  score_after_topk true  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E203',
    line: 5,
    column: 67,
    hint: 'score softmax',
  },
  {
    name: 'E203 top_p without a written top_k',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_p 0.7  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E203',
    line: 5,
    column: 26,
    hint: 'top_k 4',
  },
  {
    name: 'E203 top_p with sigmoid scores',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { score sigmoid  top_k 3  top_p 0.7  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E203',
    line: 5,
    column: 56,
    hint: 'threshold',
  },
  {
    name: 'E203 top_groups above groups',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 2  groups 2  top_groups 3  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E203',
    line: 5,
    column: 56,
    hint: 'at most groups',
  },
  {
    name: 'E202 groups that do not divide the experts',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 2  groups 3  top_groups 1  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E202',
    line: 5,
    column: 42,
    hint: 'groups',
  },
  {
    name: "E201 top_k above the kept groups' experts",
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 4  groups 4  top_groups 1  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E201',
    line: 5,
    column: 32,
    hint: 'top_groups',
  },
  {
    name: 'E204 Sinkhorn with softmax after top-k',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  sinkhorn 5  score_after_topk true }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E204',
    line: 5,
    column: 35,
    hint: 'keep one',
    others: ['W301', 'W302'],
  },
  {
    name: 'E204 gates on the input with top_k 2',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 2  apply_gates input  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E204',
    line: 5,
    column: 47,
    hint: 'top_k 1',
  },
  {
    name: 'E204 null experts in a group limit',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 2  groups 2  top_groups 1  null_experts 2  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E204',
    line: 5,
    column: 59,
    hint: 'drop',
  },
  {
    name: 'E207 an L1 loss on softmax scores',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 2  l1_loss 0.01  capacity none }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'E207',
    line: 5,
    column: 43,
    hint: 'score relu',
  },
  {
    name: 'W301 Sinkhorn is not causal',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  sinkhorn 5  capacity_factor 1.0 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'W301',
    line: 5,
    column: 11,
    hint: 'prefer',
    severity: 'warning',
  },
  {
    name: 'W301 dropping by probability is not causal',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.0  drop_policy by_probability }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'W301',
    line: 5,
    column: 11,
    hint: 'capacity none',
    severity: 'warning',
  },
  {
    name: 'W302 a drop policy without a capacity',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity none  drop_policy by_probability }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `,
    code: 'W302',
    line: 5,
    column: 50,
    hint: 'capacity_factor',
    severity: 'warning',
  },
  {
    name: 'E103 a reserved word as the model name',
    text: moe`
      model top_p {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn dense { hidden 128 }
      }
    `,
    code: 'E103',
    line: 1,
    column: 7,
    hint: 'model my_top_p',
  },
  // --- per-layer ffn -----------------------------------------------------------
  {
    name: 'E104 an ffn for a block the model does not have',
    text: moe`
      model m {
        vocab 256  context 64  width 64  depth 3  heads 4
        ffn dense { hidden 128 }
        ffn moe blocks 1 5 { experts 4 { hidden 64 }  route token_choice { top_k 1 } }
      }
    `,
    code: 'E104',
    line: 4,
    column: 20,
    hint: 'raise `depth`',
  },
  {
    name: 'E203 a block given two ffn lines',
    text: moe`
      model m {
        vocab 256  context 64  width 64  depth 3  heads 4
        ffn dense { hidden 128 }
        ffn moe blocks 1 { experts 4 { hidden 64 }  route token_choice { top_k 1 } }
        ffn moe blocks 2 1 { experts 4 { hidden 64 }  route token_choice { top_k 1 } }
      }
    `,
    code: 'E203',
    line: 5,
    column: 20,
    hint: 'one ffn only',
  },
  {
    name: 'E111 a block no ffn line covers',
    text: moe`
      model m {
        vocab 256  context 64  width 64  depth 3  heads 4
        ffn moe blocks 0 1 { experts 4 { hidden 64 }  route token_choice { top_k 1 } }
      }
    `,
    code: 'E111',
    line: 3,
    column: 3,
    hint: 'list block 2',
  },
  {
    name: 'E102 two ffn lines without blocks',
    text: moe`
      model m {
        vocab 256  context 64  width 64  depth 3  heads 4
        ffn dense { hidden 128 }
        ffn moe { experts 4 { hidden 64 }  route token_choice { top_k 1 } }
      }
    `,
    code: 'E102',
    line: 4,
    column: 3,
    hint: 'blocks b',
  },
  {
    name: 'E203 every on an ffn with blocks',
    text: moe`
      model m {
        vocab 256  context 64  width 64  depth 3  heads 4
        ffn dense { hidden 128 }
        ffn moe blocks 1 every 2 { experts 4 { hidden 64 }  route token_choice { top_k 1 } }
      }
    `,
    code: 'E203',
    line: 4,
    column: 20,
    hint: 'without `blocks`',
  },
  {
    name: 'W302 warm-up longer than training',
    text: moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
        }
      }
      train { data synthetic  batch 16  steps 300  schedule cosine { warmup 400 }  seed 1 }
    `,
    code: 'W302',
    line: 8,
    column: 71,
    severity: 'warning',
  },
];

/** A diagnostic as "CODE line:column" for readable failures. */
function at(file: ReturnType<typeof checkSpec>['file'], d: Diagnostic): string {
  const p = file.position(d.span.start);
  return `${d.code} ${p.line}:${p.column}`;
}

describe('bad input: one mistake, one precise diagnostic', () => {
  it('has a row for every code the checker can emit', () => {
    const covered = new Set(cases.map((c) => c.code));
    const emitted: Code[] = ['E001', 'E002', 'E003', 'E004', 'E010', 'E011', 'E012', 'E013', 'E101', 'E102', 'E103', 'E104', 'E105', 'E106', 'E107', 'E108', 'E109', 'E110', 'E111', 'E201', 'E202', 'E203', 'E204', 'E205', 'E207', 'W301', 'W302'];
    expect(emitted.filter((c) => !covered.has(c))).toEqual([]);
  });

  it.each(cases)('$name', (c) => {
    const result = checkSpec(c.text, 'bad.moe');
    const found = result.diagnostics.filter((d) => d.code === c.code);
    expect(found.map((d) => at(result.file, d)), 'where it is reported').toEqual([`${c.code} ${c.line}:${c.column}`]);
    const d = found[0]!;
    expect(d.severity).toBe(c.severity ?? 'error');
    if (c.message) expect(d.message).toContain(c.message);
    if (c.hint) expect(d.hint).toContain(c.hint);
    // No cascade: nothing else, unless the row names it.
    const extra = result.diagnostics.filter((x) => x.code !== c.code && !(c.others ?? []).includes(x.code));
    expect(extra.map((x) => `${at(result.file, x)} ${x.message}`), 'other diagnostics').toEqual([]);
    // Warnings leave a usable spec; errors never do.
    expect(result.spec !== undefined).toBe(c.severity === 'warning');
  });
});

describe('error recovery', () => {
  it('reports every mistake of a file in one run', () => {
    const text = moe`
      model switch {
        vocab 256  context 64  width 64  depth -2  heads 4
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelo }
          route token_choice { top_k 1  capacity_factr 1.25  balance_loss 0.01  slots 2 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3  momentum 0.9 }  seed 1 $ }
      extra { }
    `;
    const result = checkSpec(text, 'many.moe');
    expect(result.diagnostics.map((d) => at(result.file, d))).toEqual([
      'E104 2:42', // depth -2
      'E107 4:40', // gelo
      'E101 5:35', // capacity_factr
      'E110 5:75', // slots in token_choice
      'E110 8:73', // momentum with adamw
      'E001 8:96', // $
      'E101 9:1', // extra
    ]);
    expect(result.spec).toBeUndefined();
  });

  it('keeps checking after a syntax error', () => {
    const text = moe`
      model switch {
        vocab 256  context 64  width 64  depth 2  heads 5 }
        ffn moe every 1 {
          experts 8 { hidden 128  activation gelu }
          route token_choice { top_k 9 }
        }
      }
      train { data synthetic  batch 16  steps 300  optimizer adamw { lr 3e-3 }  seed 1 }
    `;
    const result = checkSpec(text, 'recover.moe');
    const codes = result.diagnostics.map((d) => at(result.file, d));
    expect(codes).toContain('E012 7:1'); // the `}` left over from the early close on line 2
    expect(codes).toContain('E202 2:51'); // heads 5
  });
});

describe('valid specs', () => {
  const specs = readdirSync('specs').filter((f) => f.endsWith('.moe')).sort();

  it.each(specs)('%s has no errors', (name) => {
    const result = checkSpec(readFileSync(`specs/${name}`, 'utf8'), `specs/${name}`);
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(result.spec).toBeDefined();
  });

  it('may start with a byte-order mark', () => {
    const result = checkSpec(`\ufeff${readFileSync('specs/switch.moe', 'utf8')}`, 'bom.moe');
    expect(result.diagnostics).toEqual([]);
    expect(result.spec).toBeDefined();
  });
});
