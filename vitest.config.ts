import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// GPU tests share two CPU cores with lavapipe's worker threads: run test
// files in at most two forked workers and give kernel tests room to finish.
// Generated harnesses import `moec/runtime`; inside tests that is this checkout.
//
// On lavapipe most of a kernel test's time is LLVM compiling each new kernel
// (~0.5 s apiece), not running it. GALLIVM_PERF=nopt skips LLVM's
// optimisation passes: compiles take about a third less time and kernels run
// 2-3x slower, with bit-identical results (tests/project/bit_exact.test.ts
// holds digests recorded without it). So tests that mostly compile run with
// it, and tests that mostly train (tests/training, the custom loop) without.
// It affects only Mesa's CPU drivers; a GALLIVM_PERF you set yourself wins.
const TRAINING = ['tests/training/**/*.test.ts', 'tests/harness/custom_loop.test.ts'];
const gallivm = (fallback: string) => ({ GALLIVM_PERF: process.env.GALLIVM_PERF ?? fallback });

export default defineConfig({
  resolve: {
    alias: { 'moec/runtime': fileURLToPath(new URL('./runtime/index.ts', import.meta.url)) },
  },
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    projects: [
      { extends: true, test: { name: 'kernels', include: ['tests/**/*.test.ts'], exclude: TRAINING, env: gallivm('nopt') } },
      { extends: true, test: { name: 'training', include: TRAINING, env: gallivm('') } },
    ],
  },
});
