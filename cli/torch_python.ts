/**
 * Finding a Python that has PyTorch, for running an export here: the
 * MOEC_PYTHON environment variable, then `python3`, then Debian's
 * /usr/bin/python3 (where python3-torch installs, even when another python3
 * comes first on PATH). scripts/setup_torch.sh looks in the same order.
 */
import { spawnSync } from 'node:child_process';

/** The command that installs PyTorch on Debian 12 (OpenBLAS: Debian's torch is ~10x slower on the reference BLAS). */
export const TORCH_INSTALL = 'apt-get install -y python3-torch libopenblas0-pthread';

let cached: string | null | undefined;

/** A Python executable that imports torch with torch.distributed, or null. */
export function findTorchPython(): string | null {
  if (cached !== undefined) return cached;
  for (const py of [process.env.MOEC_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import torch, torch.distributed as d; assert d.is_available()'], { stdio: 'ignore', timeout: 120_000 });
    if (r.status === 0) return (cached = py);
  }
  return (cached = null);
}
