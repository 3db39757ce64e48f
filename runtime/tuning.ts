/**
 * Per-adapter kernel choices found by measurement (`npm run bench` tunes
 * them), cached on disk so every later run on the same adapter uses them.
 * Choices change speed only: each output still sums in the same order, so
 * numbers do not depend on the tuning.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GEMM_KINDS, validTile, type GemmKind, type GemmTile, type Target } from '../codegen/wgsl/kernel.ts';
import type { Gpu } from './gpu.ts';

export interface Tuning {
  /** The best tile of each kind of GEMM. */
  readonly gemmTiles: Record<GemmKind, GemmTile>;
  readonly measuredAt: string;
  /** GFLOP/s of each candidate tile per kind, for the record. */
  readonly candidates: Record<string, Record<string, number>>;
}

export function tuningCachePath(): string {
  const base = process.env.MOEC_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'moec');
  return join(base, 'tuning.json');
}

function readAll(): Record<string, Tuning> {
  try {
    return JSON.parse(readFileSync(tuningCachePath(), 'utf8')) as Record<string, Tuning>;
  } catch {
    return {};
  }
}

/** The adapter's cached tuning; entries from older versions (one tile for every GEMM) are ignored. */
export function loadTuning(adapter: string): Tuning | undefined {
  const t = readAll()[adapter];
  const tiles = t?.gemmTiles;
  return tiles && GEMM_KINDS.every((k) => Array.isArray(tiles[k]) && validTile(tiles[k])) ? t : undefined;
}

export function saveTuning(adapter: string, tuning: Tuning): void {
  const all = readAll();
  all[adapter] = tuning;
  const path = tuningCachePath();
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(all, null, 1)}\n`);
}

/** The adapter's limits plus its tuned kernel choices. */
export function targetFor(gpu: Gpu): Target {
  const tuned = loadTuning(gpu.adapterName);
  return tuned ? { ...gpu.limits, gemmTiles: tuned.gemmTiles } : { ...gpu.limits };
}
