/**
 * The tuning cache: one tile per GEMM kind, per adapter (register-blocked
 * or workgroup-tiled). Entries written by
 * older versions (one tile for every GEMM) or edited by hand into nonsense
 * are ignored, so compiles fall back to the default tile instead of failing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gemmTile, parseTile, tileLabel, DEFAULT_TARGET } from '../../codegen/wgsl/kernel.ts';
import { loadTuning, saveTuning, tuningCachePath } from '../../runtime/tuning.ts';

describe('tuning cache', () => {
  const before = process.env.MOEC_CACHE_DIR;
  beforeEach(() => {
    process.env.MOEC_CACHE_DIR = mkdtempSync(join(tmpdir(), 'moec-tuning-'));
  });
  afterEach(() => {
    if (before === undefined) delete process.env.MOEC_CACHE_DIR;
    else process.env.MOEC_CACHE_DIR = before;
  });

  it('round-trips one tile per GEMM kind for one adapter', () => {
    const gemmTiles = { forward: [8, 4], input_grad: [4, 8, 16], weight_grad: [16, 8] } as const;
    saveTuning('adapter A', { gemmTiles, measuredAt: 'now', candidates: {} });
    expect(loadTuning('adapter A')?.gemmTiles).toEqual(gemmTiles);
    expect(loadTuning('adapter B')).toBeUndefined();
    const target = { ...DEFAULT_TARGET, gemmTiles };
    expect(gemmTile(target, 'weight_grad')).toEqual([16, 8]);
    expect(gemmTile({ ...target, fusion: false }, 'weight_grad')).toEqual([1, 1]);
  });

  it('ignores entries of the older one-tile format and malformed tiles', () => {
    writeFileSync(
      tuningCachePath(),
      JSON.stringify({
        old: { gemmTile: [8, 4], measuredAt: 'then', candidates: {} },
        bad: { gemmTiles: { forward: [8, 4], input_grad: [0, 4], weight_grad: [4, 4] } },
        partial: { gemmTiles: { forward: [8, 4] } },
        // A workgroup block wider than 64 threads' worth, and a k-depth that does not split over 64 threads.
        wide: { gemmTiles: { forward: [16, 8, 16], input_grad: [4, 4], weight_grad: [4, 4] } },
        uneven: { gemmTiles: { forward: [1, 1, 4], input_grad: [4, 4], weight_grad: [4, 4] } },
      }),
    );
    expect(loadTuning('old')).toBeUndefined();
    expect(loadTuning('bad')).toBeUndefined();
    expect(loadTuning('partial')).toBeUndefined();
    expect(loadTuning('wide')).toBeUndefined();
    expect(loadTuning('uneven')).toBeUndefined();
    expect(gemmTile(DEFAULT_TARGET, 'forward')).toEqual([4, 4]);
  });

  it('names tiles as the benchmark prints them and parses them back', () => {
    expect(tileLabel([8, 4])).toBe('8x4');
    expect(tileLabel([8, 8, 16])).toBe('8x8/k16');
    expect(parseTile('8x8/k16')).toEqual([8, 8, 16]);
    expect(parseTile('16x8')).toEqual([16, 8]);
    for (const bad of ['8x', '8x8/16', '0x4', '16x8/k16', '8x8/k2', 'x']) expect(parseTile(bad)).toBeUndefined();
  });

  it('treats an unreadable cache file as empty', () => {
    writeFileSync(tuningCachePath(), '{ not json');
    expect(loadTuning('any')).toBeUndefined();
  });
});
