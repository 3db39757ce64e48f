/**
 * The PyTorch export in the benchmark: the same MoE layers and shipped
 * specs, exported and timed on this machine's CPU with PyTorch
 * (bench/pytorch_bench.py), for the table beside moec's WebGPU figures.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpec } from '../compiler/compile.ts';
import { exportPytorch } from '../codegen/pytorch/export.ts';
import { findTorchPython, TORCH_INSTALL } from '../cli/torch_python.ts';
import type { BenchLayer } from './layers.ts';
import type { Timing } from './timing.ts';

export interface TorchLayerTiming {
  readonly forward: Timing;
  readonly train: Timing;
  readonly tokens: number;
}

export interface TorchResults {
  readonly torch: string;
  readonly threads: number;
  readonly layers: Record<string, TorchLayerTiming>;
  /** Training tokens per second by spec file. */
  readonly train: Record<string, { step: Timing; tokens: number }>;
}

/** Exports the layers and specs and times them in one Python process; throws with the install command without PyTorch. */
export function timePytorch(layers: readonly BenchLayer[], specFiles: readonly string[], runs: number): TorchResults {
  const python = findTorchPython();
  if (!python) throw new Error(`no Python with PyTorch here (Debian 12, as root: ${TORCH_INSTALL})`);
  const work = mkdtempSync(join(tmpdir(), 'moec-bench-torch-'));
  try {
    const jobs: object[] = [];
    const exportTo = (text: string, path: string, name: string) => {
      const { spec } = checkSpec(text, path);
      if (!spec) throw new Error(`${path} does not check`);
      const dir = join(work, name);
      exportPytorch(spec, dir);
      return dir;
    };
    for (const l of layers) jobs.push({ dir: exportTo(l.spec, `${l.name}.moe`, `layer-${l.name}`), what: 'layer', batch: l.batch, seq: l.seq, runs });
    for (const f of specFiles) jobs.push({ dir: exportTo(readFileSync(f, 'utf8'), f, `spec-${jobs.length}`), what: 'train', runs: Math.max(2, Math.ceil(runs / 2)) });
    const jobFile = join(work, 'jobs.json');
    writeFileSync(jobFile, JSON.stringify(jobs));
    const raw = JSON.parse(execFileSync(python, ['bench/pytorch_bench.py', jobFile], { encoding: 'utf8', maxBuffer: 16 << 20 })) as { torch: string; threads: number; jobs: Record<string, unknown>[] };
    const out: TorchResults = { torch: raw.torch, threads: raw.threads, layers: {}, train: {} };
    layers.forEach((l, i) => (out.layers[l.name] = raw.jobs[i] as unknown as TorchLayerTiming));
    specFiles.forEach((f, i) => (out.train[f] = raw.jobs[layers.length + i] as unknown as { step: Timing; tokens: number }));
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
