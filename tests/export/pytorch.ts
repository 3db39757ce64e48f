/**
 * The Python side of the PyTorch export tests: finds a Python with PyTorch
 * (MOEC_PYTHON, then python3, then Debian's /usr/bin/python3, as
 * scripts/setup_torch.sh does) and runs scripts in it. Without one the tests
 * fail with the command that installs it; they never skip.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpec } from '../../compiler/compile.ts';
import { findTorchPython, TORCH_INSTALL } from '../../cli/torch_python.ts';
import type { ModelSpec } from '../../compiler/spec.ts';
import { exportPytorch } from '../../codegen/pytorch/export.ts';
import { serializeSafetensors, type StTensor } from '../../runtime/safetensors.ts';
import type { HostArray } from '../../runtime/executor.ts';

/** A Python executable that imports torch with torch.distributed; throws with the install command otherwise. */
export function torchPython(): string {
  const py = findTorchPython();
  if (!py) throw new Error(`no Python with PyTorch (tried $MOEC_PYTHON, python3, /usr/bin/python3): the PyTorch export tests need one.\n  On Debian 12, as root: ${TORCH_INSTALL}   (scripts/setup_torch.sh does this when run as root)`);
  return py;
}

/** Runs a Python script with arguments; returns stdout, throws with stderr's tail on failure. */
export function runPython(args: readonly string[], cwd?: string, timeoutMs = 600_000): string {
  try {
    return execFileSync(torchPython(), args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`python3 ${args.join(' ')} failed: ${err.message}\n${(err.stderr ?? '').split('\n').slice(-25).join('\n')}`);
  }
}

/** A checked spec from a file. */
export function specAt(path: string): ModelSpec {
  const { spec, diagnostics } = checkSpec(readFileSync(path, 'utf8'), path);
  if (!spec) throw new Error(`${path} does not check: ${diagnostics.map((d) => d.message).join('; ')}`);
  return spec;
}

/** Exports a spec into a fresh temporary folder. */
export function exportToTemp(spec: ModelSpec): string {
  const dir = mkdtempSync(join(tmpdir(), `moec-export-${spec.name}-`));
  exportPytorch(spec, dir);
  return dir;
}

/** Writes host arrays as a safetensors file. */
export function writeTensors(path: string, values: ReadonlyMap<string, HostArray>, shapes: (name: string) => readonly number[] = (n) => [values.get(n)!.length]): void {
  const tensors = new Map<string, StTensor>();
  for (const [name, v] of [...values].sort(([a], [b]) => (a < b ? -1 : 1))) tensors.set(name, { dtype: v instanceof Int32Array ? 'I32' : 'F32', shape: shapes(name), data: v });
  writeFileSync(path, serializeSafetensors(tensors));
}
