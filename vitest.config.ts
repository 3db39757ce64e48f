import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// GPU tests share two CPU cores with lavapipe's worker threads: run test
// files in at most two forked workers and give kernel tests room to finish.
// Generated harnesses import `moec/runtime`; inside tests that is this checkout.
export default defineConfig({
  resolve: {
    alias: { 'moec/runtime': fileURLToPath(new URL('./runtime/index.ts', import.meta.url)) },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
