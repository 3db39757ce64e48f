/**
 * `moec play`: builds the browser playground (spec editor with live
 * diagnostics, training on the browser's WebGPU) and serves it on
 * 127.0.0.1 until Ctrl-C.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { buildPlayground } from '../playground/bundle.ts';
import { servePlayground } from '../playground/server.ts';
import { UserError } from './user_error.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the page into a temporary folder, serves it on 127.0.0.1:`port` until SIGINT/SIGTERM, then removes the folder. */
export async function playCommand(opts: { port: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'moec-play-'));
  try {
    await buildPlayground(dir);
    let server;
    try {
      server = await servePlayground(dir, ROOT, opts.port);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') throw new UserError(`cannot listen on 127.0.0.1:${opts.port} (${code === 'EADDRINUSE' ? 'the port is in use' : 'permission denied'})`, 'pick another with --port N (0: any free port)');
      throw e;
    }
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`moec playground: http://127.0.0.1:${port}/  (open it in a browser with WebGPU; Ctrl-C stops)\n`);
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
