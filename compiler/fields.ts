/**
 * Typed access to one checked block of a spec: values with defaults for
 * absent keys, and the spans and origins of what was written, for the
 * resolver's relation checks and for kernels that cite their spec line.
 */
import type { CheckedEntry, CheckedSection, Scalar } from './check_keys.ts';
import type { SourceFile, Span } from './source.ts';
import type { Origin } from './spec.ts';

/** Typed access to one checked block, with defaults for absent keys. */
export class Fields {
  constructor(
    readonly section: CheckedSection | undefined,
    private readonly file: SourceFile,
  ) {}

  entry(key: string): CheckedEntry | undefined {
    const e = this.section?.entries.get(key);
    return e && e.valid ? e : undefined;
  }

  /** True when the key was written (valid or not), so defaults do not mask errors. */
  written(key: string): boolean {
    return this.section?.entries.has(key) ?? false;
  }

  /**
   * True when any of `keys` was written with a bad value. That value was
   * already reported, and a relation check on the default standing in for it
   * would report a second, misleading error ("heads 6 does not divide width 64"
   * after `width 30000`), so such checks are skipped.
   */
  invalid(...keys: string[]): boolean {
    return keys.some((k) => this.written(k) && !this.entry(k));
  }

  value(key: string, i = 0): Scalar | undefined {
    return this.entry(key)?.values[i];
  }

  num(key: string, fallback: number): number {
    const v = this.value(key);
    return typeof v === 'number' ? v : fallback;
  }

  word<T extends string>(key: string, fallback: T): T {
    const v = this.value(key);
    return typeof v === 'string' ? (v as T) : fallback;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key);
    return typeof v === 'boolean' ? v : fallback;
  }

  block(key: string): Fields {
    return new Fields(this.section?.entries.get(key)?.block, this.file);
  }

  /** Span of the key's first value (or the key itself) for relation errors. */
  valueSpan(key: string, i = 0): Span {
    const e = this.section?.entries.get(key)?.entry;
    if (!e) return this.section ? { start: this.section.span.start, end: this.section.span.start + 1 } : { start: 0, end: 0 };
    return e.values[i]?.span ?? e.keySpan;
  }

  keySpan(key: string): Span {
    return this.section?.entries.get(key)?.entry.keySpan ?? this.valueSpan(key);
  }

  origin(key: string): Origin {
    const e = this.section?.entries.get(key)?.entry;
    if (!e) return { line: 0, text: '' };
    const line = this.file.position(e.keySpan.start).line;
    return { line, text: this.file.lineText(line).trim() };
  }

  /** The origin of one written entry, its text the entry itself (`top_k 2`), not the whole line. */
  entryOrigin(key: string): Origin {
    const e = this.section?.entries.get(key)?.entry;
    if (!e) return { line: 0, text: '' };
    const end = e.values.at(-1)?.span.end ?? e.keySpan.end;
    return { line: this.file.position(e.keySpan.start).line, text: this.file.text.slice(e.keySpan.start, end).replace(/\s+/g, ' ') };
  }

  /** Origins of every entry written directly in this section, by key. */
  entryOrigins(): Record<string, Origin> {
    return Object.fromEntries([...(this.section?.entries.keys() ?? [])].map((k) => [k, this.entryOrigin(k)]));
  }

  /** Keys written here that are not in `allowed`. */
  writtenOutside(allowed: readonly string[]): CheckedEntry[] {
    return [...(this.section?.entries.values() ?? [])].filter((e) => !allowed.includes(e.def.key));
  }
}

