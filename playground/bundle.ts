/**
 * Builds the playground with esbuild: the page (playground/page/main.ts,
 * with CodeMirror and the compiler's checker) and the training worker
 * (playground/worker/train_worker.ts, with the compiler, code generator and
 * runtime), plus the page's HTML and CSS. Everything is bundled locally, so
 * the page needs no network. Node built-ins that shared modules import for
 * their CLI paths are replaced by stubs that throw if ever called in the page.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Modules only the CLI's code paths use: node built-ins and Dawn's binding. */
const nodeOnly: Plugin = {
  name: 'moec-node-only',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|webgpu|tsx\/.*)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({
      contents: `const name = ${JSON.stringify(args.path)};
module.exports = new Proxy({}, { get: (_, key) => key === '__esModule' ? false : () => { throw new Error(name + '.' + String(key) + ' is not available in the browser'); } });`,
      loader: 'js',
    }));
  },
};

/** Writes index.html, style.css, main.js and worker.js (with source maps) to `outDir`. */
export async function buildPlayground(outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { main: join(HERE, 'page', 'main.ts'), worker: join(HERE, 'worker', 'train_worker.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome113',
    sourcemap: true,
    minify: true,
    logLevel: 'error',
    plugins: [nodeOnly],
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(HERE, 'page', f), join(outDir, f));
}
