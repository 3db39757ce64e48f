/**
 * File-system failures (a read-only or full disk, a missing or forbidden
 * folder) are the user's to fix, not bugs: they are printed as what failed,
 * on which path, and a hint, with exit status 1, never as an internal error.
 */

/** What each errno means, said plainly, and what to do about it. */
const KNOWN: Readonly<Record<string, readonly [string, string]>> = {
  EROFS: ['the file system is read-only', 'write the run somewhere writable with --out DIR'],
  ENOSPC: ['no space is left on the device', 'free some space or use --out DIR on another disk; a checkpoint written before is kept'],
  EDQUOT: ['the disk quota is exceeded', 'free some space or use --out DIR on another disk; a checkpoint written before is kept'],
  EACCES: ['permission denied', 'use a folder you may write to (--out DIR), or fix its permissions'],
  EPERM: ['operation not permitted', 'use a folder you may write to (--out DIR), or fix its permissions'],
  ENOTDIR: ['a part of the path is a file, not a folder', 'check the path'],
  EISDIR: ['it is a folder, not a file', 'check the path'],
  ENOENT: ['no such file or folder', 'check the path'],
};

/** A user-facing message for a file-system error, or undefined for any other error. */
export function describeFileSystemError(e: unknown): { message: string; hint: string } | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof err.code !== 'string' || typeof err.syscall !== 'string') return undefined;
  const known = KNOWN[err.code];
  if (!known) return undefined;
  const [what, hint] = known;
  // Writes through a file descriptor carry no path; the message still says what failed.
  return { message: `cannot ${err.syscall}${typeof err.path === 'string' ? ` ${err.path}` : ''}: ${what} (${err.code})`, hint };
}
