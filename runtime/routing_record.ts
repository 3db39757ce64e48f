/**
 * Routing record files (`moec train --record-routing FILE`, read back by
 * `--replay-routing FILE`): every token-choice layer's selections, per
 * micro-batch of every step. The file is one JSON header line, then fixed-size
 * little-endian int32 records — step, micro-batch, then each table's
 * token_expert [N, k] in header order — so a record is found by arithmetic,
 * a resumed recording truncates to its checkpoint's step, and a file cut
 * short (a killed run) is detected rather than misread.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

export const ROUTING_FORMAT = 'moec-routing/1';

export interface RoutingHeader {
  readonly format: string;
  /** The spec the selections were recorded with (informational). */
  readonly spec: string;
  readonly accumulate: number;
  /** Each table: the layer's token_expert tensor, its shape [N, k], and the experts it picks from (null ones included). */
  readonly tables: readonly RoutingTable[];
}

export interface RoutingTable {
  readonly name: string;
  readonly shape: readonly [number, number];
  readonly experts: number;
}

/** A record file that cannot be used, with what is wrong. */
export class RoutingFileError extends Error {
  constructor(
    readonly path: string,
    why: string,
    readonly hint: string,
  ) {
    super(`${path}: ${why}`);
  }
}

function recordInts(h: RoutingHeader): number {
  return 2 + h.tables.reduce((n, t) => n + t.shape[0] * t.shape[1], 0);
}

function headerBytes(h: RoutingHeader): Buffer {
  return Buffer.from(`${JSON.stringify(h)}\n`, 'utf8');
}

/** Offset of the record of (step, micro), steps from 1. */
function offsetOf(h: RoutingHeader, headerLength: number, step: number, micro: number): number {
  return headerLength + ((step - 1) * h.accumulate + micro) * recordInts(h) * 4;
}

/** Appends each micro-batch's selections to a record file. */
export class RoutingRecorder {
  private constructor(
    private readonly fd: number,
    private readonly header: RoutingHeader,
  ) {}

  /**
   * Opens `path` for recording. A new run starts the file afresh; a resumed
   * run (`afterStep` > 0) keeps the records of steps up to `afterStep` and
   * drops the rest (those steps are trained again), after checking that the
   * file was recorded with the same tables.
   */
  static open(path: string, header: RoutingHeader, afterStep: number): RoutingRecorder {
    const head = headerBytes(header);
    if (afterStep > 0 && existsSync(path)) {
      const found = readHeader(path);
      if (JSON.stringify(found.header) !== JSON.stringify(header)) throw new RoutingFileError(path, 'was recorded for other routing tables or accumulation', 'record this run into a new file');
      const fd = openSync(path, 'r+');
      const keep = offsetOf(header, found.length, afterStep + 1, 0);
      if (fstatSync(fd).size < keep) {
        closeSync(fd);
        throw new RoutingFileError(path, `holds fewer steps than the checkpoint's ${afterStep}`, 'record this run into a new file');
      }
      ftruncateSync(fd, keep);
      closeSync(fd);
    } else {
      const fd = openSync(path, 'w');
      writeSync(fd, head);
      closeSync(fd);
    }
    // Every record goes to the end of the file.
    return new RoutingRecorder(openSync(path, 'a'), header);
  }

  /** Appends the selections of micro-batch `micro` of `step`. */
  append(step: number, micro: number, tables: ReadonlyMap<string, Int32Array>): void {
    const rec = new Int32Array(recordInts(this.header));
    rec[0] = step;
    rec[1] = micro;
    let at = 2;
    for (const t of this.header.tables) {
      const v = tables.get(t.name);
      if (!v || v.length !== t.shape[0] * t.shape[1]) throw new Error(`internal: routing record of ${t.name} has ${v?.length ?? 0} entries, not ${t.shape[0] * t.shape[1]}`);
      rec.set(v, at);
      at += v.length;
    }
    writeSync(this.fd, Buffer.from(rec.buffer));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Reads one step's selections from a record file, checked against the tables a run needs. */
export class RoutingReplay {
  private constructor(
    private readonly path: string,
    private readonly fd: number,
    private readonly header: RoutingHeader,
    private readonly headerLength: number,
  ) {}

  /** Opens a record file for a run whose model has `expected` tables and accumulation. */
  static open(path: string, expected: Omit<RoutingHeader, 'format' | 'spec'>): RoutingReplay {
    const { header, length } = readHeader(path);
    const describe = (t: RoutingHeader['tables']) => t.map((x) => `${x.name} [${x.shape.join(', ')}]`).join(', ');
    if (JSON.stringify(header.tables) !== JSON.stringify(expected.tables)) {
      throw new RoutingFileError(path, `holds selections of ${describe(header.tables) || 'no layer'}, but this model routes ${describe(expected.tables)}`, 'replay a recording of a spec with the same MoE layers, batch and context');
    }
    if (header.accumulate !== expected.accumulate) throw new RoutingFileError(path, `was recorded with accumulate ${header.accumulate}, this run uses ${expected.accumulate}`, 'replay with the same `accumulate`');
    return new RoutingReplay(path, openSync(path, 'r'), header, length);
  }

  /** The selections of micro-batch `micro` of `step`, by token_expert name. */
  read(step: number, micro: number): Record<string, Int32Array> {
    const n = recordInts(this.header);
    const buf = Buffer.alloc(n * 4);
    const got = readSync(this.fd, buf, 0, buf.length, offsetOf(this.header, this.headerLength, step, micro));
    if (got < buf.length) throw new RoutingFileError(this.path, `ends before step ${step} (micro-batch ${micro + 1})`, 'replay at most as many steps as were recorded (--steps N)');
    const rec = new Int32Array(buf.buffer, buf.byteOffset, n);
    if (rec[0] !== step || rec[1] !== micro) throw new RoutingFileError(this.path, `is damaged: the record for step ${step} says step ${rec[0]}`, 'record the run again');
    const out: Record<string, Int32Array> = {};
    let at = 2;
    for (const t of this.header.tables) {
      const size = t.shape[0] * t.shape[1];
      const v = rec.slice(at, at + size);
      for (const e of v) if (e < -1 || e >= t.experts) throw new RoutingFileError(this.path, `is damaged: step ${step} of ${t.name} holds expert ${e} (of ${t.experts})`, 'record the run again');
      out[t.name] = v;
      at += size;
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The header line of a record file. */
function readHeader(path: string): { header: RoutingHeader; length: number } {
  if (!existsSync(path)) throw new RoutingFileError(path, 'does not exist', 'record one first with `moec train SPEC --record-routing FILE`');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const got = readSync(fd, buf, 0, buf.length, 0);
    const end = buf.subarray(0, got).indexOf(0x0a);
    let header: RoutingHeader | undefined;
    try {
      header = end > 0 ? (JSON.parse(buf.subarray(0, end).toString('utf8')) as RoutingHeader) : undefined;
    } catch {
      header = undefined;
    }
    if (!header || header.format !== ROUTING_FORMAT || !Array.isArray(header.tables)) throw new RoutingFileError(path, `is not a moec routing record (${ROUTING_FORMAT})`, 'pass a file written by `moec train --record-routing`');
    return { header, length: end + 1 };
  } finally {
    closeSync(fd);
  }
}
