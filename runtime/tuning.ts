/**
 * Per-adapter kernel choices found by measurement (`npm run bench` tunes
 * them), cached on disk so every later run on the same adapter uses them.
 * Choices change speed only: each output still sums in the same order, so
 * numbers do not depend on the tuning.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Target } from '../codegen/wgsl/kernel.ts';
import type { Gpu } from './gpu.ts';

export interface Tuning {
  readonly gemmTile: readonly [number, number];
  readonly measuredAt: string;
  /** GFLOP/s of each candidate tile, for the record. */
  readonly candidates: Record<string, number>;
}

/** The default tile before any measurement: 4x4 is never far from the best on the adapters measured. */
export const DEFAULT_TILE: readonly [number, number] = [4, 4];

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

export function loadTuning(adapter: string): Tuning | undefined {
  const t = readAll()[adapter];
  return t && Array.isArray(t.gemmTile) && t.gemmTile.length === 2 ? t : undefined;
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
  return { ...gpu.limits, gemmTile: loadTuning(gpu.adapterName)?.gemmTile ?? DEFAULT_TILE };
}
