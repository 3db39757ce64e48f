/**
 * A compiled model works without the CLI: the example of docs/HARNESS.md —
 * a user's own TypeScript training loop importing the generated class — runs
 * in a fresh project that depends on moec, and its loss falls.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('custom training loop (docs/examples/custom_loop.ts)', () => {
  it('compiles a model into a user project and trains it with the example loop', () => {
    const project = mkdtempSync(join(tmpdir(), 'moec-user-'));
    try {
      // The project depends on moec (as `npm install moec` would link it).
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-experiments', private: true, type: 'module', dependencies: { moec: '*' } }));
      mkdirSync(join(project, 'node_modules'));
      symlinkSync(resolve('.'), join(project, 'node_modules', 'moec'), 'dir');
      copyFileSync('docs/examples/custom_loop.ts', join(project, 'custom_loop.ts'));
      const compile = spawnSync(process.execPath, ['bin/moec.js', 'compile', 'specs/switch.moe', '-o', join(project, 'my_model')], { encoding: 'utf8' });
      expect(compile.status, compile.stderr).toBe(0);
      const run = spawnSync(resolve('node_modules/.bin/tsx'), ['custom_loop.ts', '30'], { cwd: project, encoding: 'utf8', timeout: 240_000 });
      expect(run.status, run.stderr).toBe(0);
      const losses = [...run.stdout.matchAll(/step (\d+)\s+loss ([\d.]+)/g)].map((m) => Number(m[2]));
      expect(losses.length).toBe(4); // steps 1, 10, 20, 30
      expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
