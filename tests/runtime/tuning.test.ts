/**
 * The tuning cache: one tile per GEMM kind, per adapter. Entries written by
 * older versions (one tile for every GEMM) or edited by hand into nonsense
 * are ignored, so compiles fall back to the default tile instead of failing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gemmTile, DEFAULT_TARGET } from '../../codegen/wgsl/kernel.ts';
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
    const gemmTiles = { forward: [8, 4], input_grad: [4, 8], weight_grad: [16, 8] } as const;
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
      }),
    );
    expect(loadTuning('old')).toBeUndefined();
    expect(loadTuning('bad')).toBeUndefined();
    expect(loadTuning('partial')).toBeUndefined();
    expect(gemmTile(DEFAULT_TARGET, 'forward')).toEqual([4, 4]);
  });

  it('treats an unreadable cache file as empty', () => {
    writeFileSync(tuningCachePath(), '{ not json');
    expect(loadTuning('any')).toBeUndefined();
  });
});
