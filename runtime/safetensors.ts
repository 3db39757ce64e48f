/**
 * Reading and writing safetensors files (the format PyTorch and most
 * frameworks exchange weights in): an 8-byte little-endian header length, a
 * JSON header mapping names to {dtype, shape, data_offsets}, then raw
 * row-major data. Every way a file can be malformed is a SafetensorsError
 * with a plain message.
 */
import { readFileSync } from 'node:fs';

export type StDType = 'F32' | 'I32';

export interface StTensor {
  readonly dtype: StDType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

export class SafetensorsError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

const SIZES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Parses a safetensors file. Only F32 and I32 tensors are accepted (others get a clear error). */
export function parseSafetensors(bytes: Uint8Array, file: string): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  const fail = (p: string): never => {
    throw new SafetensorsError(file, p);
  };
  if (bytes.length < 8) fail(`is ${bytes.length} bytes long; a safetensors file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.length - 8 || headerLen > 100_000_000) fail(`header claims ${headerLen} bytes but the file has ${bytes.length - 8} after the length; the file is truncated or not safetensors`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen))) as Record<string, unknown>;
  } catch {
    return fail('the header is not valid JSON; is this a safetensors file?');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, StTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== 'object') fail(`entry \`${name}\` is not an object`);
    if (typeof e.dtype !== 'string' || !Object.hasOwn(SIZES, e.dtype)) fail(`tensor \`${name}\` has unknown dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype as string;
    if (dtype !== 'F32' && dtype !== 'I32') fail(`tensor \`${name}\` is ${dtype}; moec reads float32 (F32) tensors — convert with tensor.float() before saving`);
    if (!Array.isArray(e.shape) || !e.shape.every((s) => Number.isSafeInteger(s) && (s as number) >= 0)) fail(`tensor \`${name}\` has a malformed shape`);
    const shape = e.shape as number[];
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) || offsets[0] > offsets[1]) fail(`tensor \`${name}\` has malformed data_offsets`);
    const [begin, end] = offsets as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4) fail(`tensor \`${name}\` has shape [${shape.join(', ')}] (${count * 4} bytes) but ${end - begin} bytes of data`);
    if (end > dataLen) fail(`tensor \`${name}\` lies past the end of the file (offset ${end} of ${dataLen} data bytes); the file is truncated`);
    // A copy: Node Buffers are views into shared pools, often misaligned for Float32Array.
    const raw = new Uint8Array(bytes.subarray(dataStart + begin, dataStart + end));
    const data = dtype === 'F32' ? new Float32Array(raw.buffer, raw.byteOffset, count) : new Int32Array(raw.buffer, raw.byteOffset, count);
    tensors.set(name, { dtype: dtype as StDType, shape, data });
  }
  return { tensors, metadata };
}

/** Reads a safetensors file from disk. */
export function readSafetensors(path: string): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SafetensorsError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`);
  }
  return parseSafetensors(bytes, path);
}

/** Serialises tensors (in the given order) to safetensors bytes. */
export function serializeSafetensors(tensors: ReadonlyMap<string, StTensor> | [string, StTensor][], metadata: Record<string, string> = {}): Uint8Array {
  const entries = [...tensors];
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const n = t.data.length * 4;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + n] };
    offset += n;
  }
  // Pad the header with spaces so data starts 8-byte aligned, as the reference implementation does.
  const encoded = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(encoded.length + ((8 - ((8 + encoded.length) % 8)) % 8)).fill(0x20);
  headerBytes.set(encoded);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4), at);
    at += t.data.length * 4;
  }
  return out;
}
