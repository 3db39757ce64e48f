/**
 * `moec export SPEC --target pytorch -o DIR`: a self-contained Python
 * package — model.py (generated from the IR), train.py (moec's training
 * semantics, single process or expert-parallel on torch.distributed),
 * moec_support.py (the runtime pieces both need), the spec itself and a
 * README.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelSpec } from '../../compiler/spec.ts';
import { generateModelPy } from './model_py.ts';
import { generateReadme } from './readme.ts';
import { generateTrainPy } from './train_py.ts';

/** The support library every export carries (codegen/pytorch/python/moec_support.py). */
export const SUPPORT_PY = join(dirname(fileURLToPath(import.meta.url)), 'python', 'moec_support.py');

/**
 * The files of an export, written into `dir` (created); returns their names.
 * `data` is the text of a built-in corpus the spec trains on (the caller
 * reads it: data belongs to the runtime), written as `<name>.txt`.
 */
export function exportPytorch(spec: ModelSpec, dir: string, data?: { name: string; bytes: Uint8Array }): string[] {
  mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [
    ['model.py', generateModelPy(spec)],
    ['train.py', generateTrainPy(spec)],
    ['README.md', generateReadme(spec)],
    ['spec.moe', spec.source.text],
    ['__init__.py', `"""${spec.name}, exported from ${spec.source.path} by moec."""\n`],
  ];
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  copyFileSync(SUPPORT_PY, join(dir, 'moec_support.py'));
  if (data) writeFileSync(join(dir, `${data.name}.txt`), data.bytes);
  return [...files.map(([n]) => n), 'moec_support.py', ...(data ? [`${data.name}.txt`] : [])];
}
