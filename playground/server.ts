/**
 * The local web server behind `moec play`: the built page, the shipped specs
 * as examples (`specs.json`), and the built-in text (`data/moby_dick.txt`).
 * It listens on 127.0.0.1 only (WebGPU needs a secure context, which
 * localhost is) and serves nothing outside these.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, relative } from 'node:path';
import { mobyDickText } from '../runtime/data/moby_dick.ts';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript', '.map': 'application/json', '.json': 'application/json', '.txt': 'text/plain; charset=utf-8' };

/** Every .moe file under `specsDir` (recursively), as {name, path, text}, path relative to `root`. */
export function shippedSpecs(root: string, specsDir = join(root, 'specs')): { name: string; path: string; text: string }[] {
  const walk = (dir: string): string[] => readdirSync(dir).sort().flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : f.endsWith('.moe') ? [join(dir, f)] : []));
  return walk(specsDir).map((p) => ({ name: p.replace(/^.*\//, '').replace(/\.moe$/, ''), path: relative(root, p), text: readFileSync(p, 'utf8') }));
}

/** Serves the built page in `pageDir` on 127.0.0.1:`port` (0: any free port); resolves with the server once listening. */
export function servePlayground(pageDir: string, root: string, port: number): Promise<Server> {
  const files = new Map<string, () => Uint8Array | string>();
  for (const f of readdirSync(pageDir)) files.set(`/${f}`, () => readFileSync(join(pageDir, f)));
  files.set('/', () => readFileSync(join(pageDir, 'index.html')));
  const specs = JSON.stringify(shippedSpecs(root));
  files.set('/specs.json', () => specs);
  let book: Uint8Array | undefined;
  files.set('/data/moby_dick.txt', () => (book ??= mobyDickText()));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = req.method === 'GET' ? files.get(url.pathname) : undefined;
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const ext = url.pathname === '/' ? '.html' : url.pathname.slice(url.pathname.lastIndexOf('.'));
    res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
