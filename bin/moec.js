#!/usr/bin/env node
// Entry point of the `moec` command: registers the TypeScript loader and the
// `moec/runtime` resolver (for generated harnesses), then runs the CLI.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./resolve_hooks.mjs', import.meta.url);
await import('../cli/main.ts');
