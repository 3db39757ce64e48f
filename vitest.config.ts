import { defineConfig } from 'vitest/config';

// GPU tests share two CPU cores with lavapipe's worker threads: run test
// files in at most two forked workers and give kernel tests room to finish.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
