/**
 * Checkpoints: one safetensors file holding the parameters (checkpoint
 * names, as `moec layer` reads them), the loss-free balancing biases, the
 * optimizer state (`optimizer.m.*`, `optimizer.v.*`) and, in its metadata,
 * a JSON record (spec text, step, RNG state, optimizer hyper-parameters).
 * Written atomically: temp file, fsync, rename, fsync of the folder — a run
 * killed at any moment leaves the previous or the new checkpoint, never a
 * torn one. The metadata carries a SHA-256 of the record and every tensor,
 * verified on load, so flipped bytes are named instead of trained on.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checksumParts, type CheckpointMeta } from './checkpoint_format.ts';
import { readSafetensors, SafetensorsError, serializeSafetensors, type StTensor } from './safetensors.ts';

export type { CheckpointMeta } from './checkpoint_format.ts';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

export interface Checkpoint {
  readonly meta: CheckpointMeta;
  readonly tensors: Map<string, StTensor>;
}

/** Temp files of writeAtomic: `.PID.TIME.tmp`. */
const TEMP = /^\.\d+\.\d+\.tmp$/;

/** Removes temp files a killed writer left in `dir` (they are never checkpoints). */
export function removeStaleTemps(dir: string): void {
  for (const f of readdirSync(dir)) if (TEMP.test(f)) rmSync(join(dir, f), { force: true });
}

/** Writes a file atomically: temp file in the same folder, fsync, rename, fsync the folder. */
export function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    // A full disk (ENOSPC, EDQUOT) fails here: drop the partial temp file; the previous file stays as it was.
    closeSync(fd);
    rmSync(tmp, { force: true });
    // A write through a descriptor names no file: name the one being replaced.
    if (e instanceof Error && (e as NodeJS.ErrnoException).path === undefined) (e as NodeJS.ErrnoException).path = path;
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
  try {
    const dir = openSync(dirname(path), 'r');
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // Some file systems cannot fsync a folder; the rename is still atomic.
  }
}

/** The checksum of a record and its tensors (the bytes of checkpoint_format.ts, hashed here with node:crypto). */
export function checkpointChecksum(meta: CheckpointMeta, tensors: ReadonlyMap<string, StTensor>): string {
  const h = createHash('sha256');
  for (const part of checksumParts(meta, tensors)) h.update(part);
  return `sha256:${h.digest('hex')}`;
}

/** Writes a checkpoint atomically, with its checksum in the metadata. */
export function saveCheckpoint(path: string, tensors: ReadonlyMap<string, StTensor>, meta: CheckpointMeta): void {
  const sealed: CheckpointMeta = { ...meta, checksum: checkpointChecksum(meta, tensors) };
  writeAtomic(path, serializeSafetensors(tensors, { moec: JSON.stringify(sealed) }));
}

export class CheckpointError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

/** Loads and validates a checkpoint file. */
export function loadCheckpoint(path: string): Checkpoint {
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(path, `not a readable checkpoint (${e.message.replace(`${path}: `, '')})`);
    throw e;
  }
  const raw = file.metadata.moec;
  if (!raw) throw new CheckpointError(path, 'has no moec metadata; it is a safetensors file but not a moec checkpoint');
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw) as CheckpointMeta;
  } catch {
    throw new CheckpointError(path, 'its moec metadata is not valid JSON');
  }
  if (meta.format !== 1 || typeof meta.step !== 'number' || typeof meta.spec?.text !== 'string') throw new CheckpointError(path, 'its moec metadata is incomplete');
  if (meta.checksum !== undefined && meta.checksum !== checkpointChecksum(meta, file.tensors)) {
    throw new CheckpointError(path, 'is corrupt: its data does not match the checksum in its metadata (bytes were changed after moec wrote it); restore it from a copy, or start the run again without --resume');
  }
  return { meta, tensors: file.tensors };
}
