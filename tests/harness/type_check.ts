/**
 * Type-checks generated files with the project's strict settings;
 * `moec/runtime` maps to this checkout.
 */
import { resolve } from 'node:path';
import ts from 'typescript';

export function typeCheck(files: string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    noUnusedLocals: true,
    types: ['node', '@webgpu/types'],
    typeRoots: [resolve('node_modules/@types'), resolve('node_modules')],
    lib: ['lib.es2022.d.ts'],
    baseUrl: resolve('.'),
    paths: { 'moec/runtime': [resolve('runtime/index.ts')] },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}
