/**
 * What a checkpoint's metadata holds, and the exact bytes its checksum is
 * computed over: shared by the CLI (hashed with node:crypto, written with
 * fsync) and the browser playground (hashed with crypto.subtle, offered as
 * a download), so a checkpoint from either loads in the other.
 */
import type { StTensor } from './safetensors.ts';

/** The JSON record stored in the checkpoint's metadata under `moec`. */
export interface CheckpointMeta {
  readonly format: 1;
  readonly spec: { readonly path: string; readonly text: string };
  /** Optimizer steps completed. */
  readonly step: number;
  readonly totalSteps: number;
  readonly seed: number;
  /** The training RNG's state words (data order is a function of the step; kept for completeness). */
  readonly rng: readonly number[];
  readonly optimizer: { readonly kind: string; readonly lr: number; readonly beta1: number; readonly beta2: number; readonly eps: number; readonly weightDecay: number };
  readonly data: string;
  readonly savedAt: string;
  /** `sha256:` + hex over this record (without the checksum) and every tensor's name, dtype, shape and bytes. Absent in checkpoints from before checksums. */
  readonly checksum?: string;
}

/**
 * The bytes the checksum covers, in order: the record (without its
 * checksum) as JSON, then for every tensor in name order (so the order they
 * were written in does not matter) a line with its name, dtype and shape,
 * and its raw data.
 */
export function checksumParts(meta: CheckpointMeta, tensors: ReadonlyMap<string, StTensor>): Uint8Array[] {
  const { checksum: _ignored, ...record } = meta;
  const text = new TextEncoder();
  const parts: Uint8Array[] = [text.encode(JSON.stringify(record))];
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    parts.push(text.encode(`\n${name} ${t.dtype} ${t.shape.join('x')}\n`), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return parts;
}

/** The tensors a checkpoint holds: every parameter, frozen weight and state tensor, then the optimizer's moments (`optimizer.NAME/m`, `/v`, `/momentum`). */
export function checkpointNames(parameters: readonly string[], buffers: readonly string[]): string[] {
  return [...parameters, ...buffers.filter((b) => b.startsWith('optimizer.') && /\/(m|v|momentum)$/.test(b))];
}
