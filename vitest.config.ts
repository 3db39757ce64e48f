import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// GPU tests share two CPU cores with lavapipe's worker threads: run test
// files in at most two forked workers and give kernel tests room to finish.
// Generated harnesses import `moec/runtime`; inside tests that is this checkout.
//
// On lavapipe most of a kernel test's time is LLVM compiling each new kernel
// (~0.5 s apiece), not running it. Two settings of Mesa's CPU drivers cut
// that: GALLIVM_PERF=nopt skips LLVM's optimisation passes, and
// LP_NATIVE_VECTOR_WIDTH=128 compiles 4-lane instead of 8-lane code; together
// compiles take about a third of the time, kernels run 2-3x slower, and every
// result is bit-identical (tests/project/bit_exact.test.ts compares digests
// recorded with the defaults; the adapter then calls itself "128-bits").
// So tests that mostly compile run with them, and the tests that mostly run
// kernels — many training steps in-process — without (measured both ways on
// a cold shader cache). Values you set yourself win.
const TRAINING = ['tests/training/learns.test.ts', 'tests/training/checkpoint.test.ts', 'tests/training/resume.test.ts', 'tests/harness/custom_loop.test.ts'];
const lavapipe = (fast: boolean): Record<string, string> => {
  const env: Record<string, string> = fast ? { GALLIVM_PERF: 'nopt', LP_NATIVE_VECTOR_WIDTH: '128' } : {};
  for (const k of ['GALLIVM_PERF', 'LP_NATIVE_VECTOR_WIDTH']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return env;
};

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
      { extends: true, test: { name: 'kernels', include: ['tests/**/*.test.ts'], exclude: TRAINING, env: lavapipe(true) } },
      { extends: true, test: { name: 'training', include: TRAINING, env: lavapipe(false) } },
    ],
  },
});
