/**
 * runtime/safetensors.ts: what serializeSafetensors writes parses back
 * bit-for-bit, the data section is 8-byte aligned, and every way a file can
 * be malformed is a SafetensorsError whose message names the file, the
 * tensor (where there is one) and the problem.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensors, readSafetensors, SafetensorsError, serializeSafetensors, type StTensor } from '../../runtime/safetensors.ts';

const FILE = 'w.safetensors';

function f32(shape: number[], values: number[]): StTensor {
  return { dtype: 'F32', shape, data: Float32Array.from(values) };
}

function i32(shape: number[], values: number[]): StTensor {
  return { dtype: 'I32', shape, data: Int32Array.from(values) };
}

/** The raw bytes of a tensor's data, to compare bit-for-bit (NaN and −0 included). */
function bytesOf(t: StTensor): number[] {
  return Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/** The header length of a serialized file. */
function headerLength(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
}

/** A file built by hand: 8-byte little-endian header length, the header text, the data bytes. */
function rawFile(header: string, data: Uint8Array | number = 0, claimedLength?: number): Uint8Array {
  const text = new TextEncoder().encode(header);
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + text.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(claimedLength ?? text.length), true);
  out.set(text, 8);
  out.set(body, 8 + text.length);
  return out;
}

/** A file with one tensor `w` described by `entry` (merged over a valid F32 [2] entry) and `data` bytes. */
function oneTensor(entry: Record<string, unknown>, data: number = 8): Uint8Array {
  return rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...entry } }), data);
}

/** The SafetensorsError message parsing `bytes` throws. */
function parseError(bytes: Uint8Array): string {
  try {
    parseSafetensors(bytes, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    const message = (e as Error).message;
    expect(message.startsWith(`${FILE}: `), message).toBe(true);
    expect(message, 'one line').not.toContain('\n');
    return message;
  }
  throw new Error('expected parseSafetensors to throw');
}

describe('round trip', () => {
  it('F32 and I32 tensors, a scalar and an empty tensor, with metadata, keep dtype, shape, order and bits', () => {
    const tensors: [string, StTensor][] = [
      ['blocks.1.moe.router.weight', f32([2, 3], [1.5, -0, Number.NaN, Infinity, -Infinity, 1e-45])],
      ['token_expert', i32([3, 2], [0, -1, 2147483647, -2147483648, 7, 3])],
      ['loss.balance', f32([], [0.125])],
      ['idx', i32([], [-5])],
      ['empty', f32([0, 4], [])],
    ];
    const metadata = { spec: 'specs/gshard.moe', block: '1', note: 'a "quoted" value' };
    const parsed = parseSafetensors(serializeSafetensors(tensors, metadata), FILE);
    expect(parsed.metadata).toEqual(metadata);
    expect([...parsed.tensors.keys()]).toEqual(tensors.map(([n]) => n));
    for (const [name, t] of tensors) {
      const back = parsed.tensors.get(name)!;
      expect(back.dtype, name).toBe(t.dtype);
      expect(back.shape, name).toEqual(t.shape);
      expect(back.data, name).toBeInstanceOf(t.dtype === 'F32' ? Float32Array : Int32Array);
      expect(back.data.length, name).toBe(t.data.length);
      expect(bytesOf(back), name).toEqual(bytesOf(t));
    }
  });

  it('empty metadata writes no __metadata__ entry and parses back as {}', () => {
    const bytes = serializeSafetensors([['x', f32([1, 2], [1, 2])]]);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength(bytes)))) as Record<string, unknown>;
    expect(Object.keys(header)).toEqual(['x']);
    expect(parseSafetensors(bytes, FILE).metadata).toEqual({});
  });

  it('accepts a Map as well as entries, and names with dots, slashes and non-ASCII letters', () => {
    const tensors = new Map<string, StTensor>([
      ['experts.up.weight', f32([1], [3])],
      ['grad/x', f32([1], [4])],
      ['größe_µ', i32([1], [5])],
    ]);
    const parsed = parseSafetensors(serializeSafetensors(tensors), FILE);
    expect([...parsed.tensors].map(([n, t]) => [n, Array.from(t.data)])).toEqual([
      ['experts.up.weight', [3]],
      ['grad/x', [4]],
      ['größe_µ', [5]],
    ]);
  });

  it('parses from a view at an odd offset into a larger buffer (as Node Buffers are)', () => {
    const bytes = serializeSafetensors([['w', f32([3], [1, 2, 3])]]);
    const pool = new Uint8Array(bytes.length + 3);
    pool.set(bytes, 3);
    expect(Array.from(parseSafetensors(pool.subarray(3), FILE).tensors.get('w')!.data)).toEqual([1, 2, 3]);
  });

  it('reads a file whose data section is not aligned (writers other than moec need not pad)', () => {
    let header = JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    while ((8 + header.length) % 4 !== 1) header += ' ';
    const bytes = rawFile(header, new Uint8Array(Float32Array.from([0.5, -2]).buffer));
    expect(Array.from(parseSafetensors(bytes, FILE).tensors.get('w')!.data)).toEqual([0.5, -2]);
  });
});

describe('alignment', () => {
  it('pads the header with spaces so the data section starts at a multiple of 8 bytes', () => {
    // Names of every length 1..16 move the header's length through every residue mod 8.
    for (let len = 1; len <= 16; len++) {
      const name = 'n'.repeat(len);
      const bytes = serializeSafetensors([[name, f32([3], [1, 2, 3])]], len % 2 ? { k: 'v' } : {});
      const headerLen = headerLength(bytes);
      expect((8 + headerLen) % 8, name).toBe(0);
      const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
      expect(text.trimEnd().endsWith('}'), name).toBe(true);
      expect(/^ *$/.test(text.slice(text.trimEnd().length)), name).toBe(true);
      expect(bytes.length, name).toBe(8 + headerLen + 12);
      expect(Array.from(new Float32Array(bytes.slice(8 + headerLen).buffer)), name).toEqual([1, 2, 3]);
    }
  });

  it('pads by the UTF-8 byte length of the header, not its character count', () => {
    const bytes = serializeSafetensors([['äöü', f32([1], [1])]]);
    expect((8 + headerLength(bytes)) % 8).toBe(0);
    expect(Array.from(parseSafetensors(bytes, FILE).tensors.get('äöü')!.data)).toEqual([1]);
  });

  it('lays tensors out back to back in the given order', () => {
    const bytes = serializeSafetensors([
      ['a', f32([2], [1, 2])],
      ['b', i32([3], [3, 4, 5])],
    ]);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength(bytes)))) as Record<string, { data_offsets: number[] }>;
    expect(header.a!.data_offsets).toEqual([0, 8]);
    expect(header.b!.data_offsets).toEqual([8, 20]);
  });
});

describe('malformed files', () => {
  it('too short for the header length', () => {
    expect(parseError(new Uint8Array(5))).toBe(`${FILE}: is 5 bytes long; a safetensors file starts with an 8-byte header length`);
    expect(parseError(new Uint8Array(0))).toContain('is 0 bytes long');
  });

  it('a header length past the end of the file', () => {
    const message = parseError(rawFile('{}', 0, 1000));
    expect(message).toContain('header claims 1000 bytes but the file has 2 after the length');
    expect(message).toContain('truncated or not safetensors');
    // A length whose high bytes are set (e.g. a text file read as safetensors).
    expect(parseError(new TextEncoder().encode('hello, world: not safetensors'))).toContain('truncated or not safetensors');
  });

  it('a header that is not valid JSON (or not UTF-8)', () => {
    expect(parseError(rawFile('{"w": {'))).toBe(`${FILE}: the header is not valid JSON; is this a safetensors file?`);
    const notUtf8 = rawFile('{}');
    notUtf8[8] = 0xff;
    expect(parseError(notUtf8)).toContain('the header is not valid JSON');
  });

  it.each(['[]', 'null', '42', '"w"', 'true'])('a header that is not a JSON object: %s', (header) => {
    expect(parseError(rawFile(header))).toBe(`${FILE}: the header is not a JSON object`);
  });

  it('an entry that is not an object', () => {
    expect(parseError(rawFile('{"w": 3}'))).toBe(`${FILE}: entry \`w\` is not an object`);
    expect(parseError(rawFile('{"w": null}'))).toBe(`${FILE}: entry \`w\` is not an object`);
  });

  it.each([['"Q8"'], ['"f32"'], ['"constructor"'], ['"toString"'], ['7']])('an unknown dtype: %s', (dtype) => {
    expect(parseError(oneTensor({ dtype: JSON.parse(dtype) as unknown }))).toBe(`${FILE}: tensor \`w\` has unknown dtype ${dtype}`);
  });

  it('a missing dtype', () => {
    expect(parseError(rawFile(JSON.stringify({ w: { shape: [2], data_offsets: [0, 8] } }), 8))).toContain('tensor `w` has unknown dtype');
  });

  it.each([
    ['F16', 2],
    ['BF16', 2],
    ['F64', 8],
  ])('%s is rejected with the hint to convert to float32', (dtype, size) => {
    const message = parseError(oneTensor({ dtype, data_offsets: [0, 2 * size] }, 2 * size));
    expect(message).toBe(`${FILE}: tensor \`w\` is ${dtype}; moec reads float32 (F32) tensors — convert with tensor.float() before saving`);
  });

  it.each([[[2, -1]], [[1.5]], ['2'], [[2, '1']], [null], [[2 ** 53]]])('a malformed shape: %j', (shape) => {
    expect(parseError(oneTensor({ shape }))).toBe(`${FILE}: tensor \`w\` has a malformed shape`);
  });

  it('a missing shape', () => {
    expect(parseError(rawFile(JSON.stringify({ w: { dtype: 'F32', data_offsets: [0, 8] } }), 8))).toBe(`${FILE}: tensor \`w\` has a malformed shape`);
  });

  it.each([[[0]], [[0, 8, 16]], [[0, '8']], [[-8, 0]], [[0, 8.5]], ['0-8'], [null], [[8, 0]]])('malformed data_offsets: %j', (offsets) => {
    expect(parseError(oneTensor({ data_offsets: offsets }))).toBe(`${FILE}: tensor \`w\` has malformed data_offsets`);
  });

  it('a byte count that does not match the shape', () => {
    expect(parseError(oneTensor({ shape: [3] }))).toBe(`${FILE}: tensor \`w\` has shape [3] (12 bytes) but 8 bytes of data`);
    expect(parseError(oneTensor({ shape: [] }))).toBe(`${FILE}: tensor \`w\` has shape [] (4 bytes) but 8 bytes of data`);
    expect(parseError(oneTensor({ dtype: 'I32', shape: [2, 2] }))).toContain('tensor `w` has shape [2, 2] (16 bytes) but 8 bytes of data');
  });

  it('truncated data', () => {
    const whole = serializeSafetensors([
      ['a', f32([2], [1, 2])],
      ['b', f32([2], [3, 4])],
    ]);
    const message = parseError(whole.subarray(0, whole.length - 3));
    expect(message).toBe(`${FILE}: tensor \`b\` lies past the end of the file (offset 16 of 13 data bytes); the file is truncated`);
    // Tensors wholly inside the truncated part are still named.
    expect(parseError(whole.subarray(0, whole.length - 8))).toContain('tensor `b` lies past the end of the file');
    expect(parseError(whole.subarray(0, whole.length - 9))).toContain('tensor `a` lies past the end of the file');
  });
});

describe('readSafetensors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moec-st-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads what serializeSafetensors wrote', () => {
    const path = join(dir, 'ok.safetensors');
    writeFileSync(path, serializeSafetensors([['x', f32([1, 1, 2], [0.25, 8])]], { seed: '1' }));
    const { tensors, metadata } = readSafetensors(path);
    expect(metadata).toEqual({ seed: '1' });
    expect(tensors.get('x')!.shape).toEqual([1, 1, 2]);
    expect(Array.from(tensors.get('x')!.data)).toEqual([0.25, 8]);
  });

  it('names the path of a missing file, a directory and a malformed file', () => {
    const missing = join(dir, 'missing.safetensors');
    expect(() => readSafetensors(missing)).toThrow(new SafetensorsError(missing, 'no such file'));
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(() => readSafetensors(sub)).toThrow(new SafetensorsError(sub, 'is a directory'));
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, 'abc');
    expect(() => readSafetensors(bad)).toThrow(`${bad}: is 3 bytes long`);
  });
});
