/**
 * A stable text dump of a graph's kernels for golden snapshots and
 * `moec compile`: each distinct kernel once (kernels that differ only in
 * comments, such as the same op in different blocks, are listed together).
 */
import type { GraphKernels } from './generate.ts';
import type { Kernel } from './kernel.ts';

/** The kernel's code without comments: equal for the same op in different blocks. */
export function kernelIdentity(k: Kernel): string {
  return k.source.replace(/\/\/[^\n]*/g, '').replace(/\n\s*\n/g, '\n');
}

/** Distinct kernels in first-use order, each with every id that uses it. */
export function distinctKernels(plan: GraphKernels): { kernel: Kernel; users: string[] }[] {
  const out = new Map<string, { kernel: Kernel; users: string[] }>();
  for (const k of [...plan.ops, ...plan.stateUpdates].flatMap((o) => [...o.forward, ...o.backward])) {
    const key = kernelIdentity(k);
    const entry = out.get(key);
    if (entry) entry.users.push(k.id);
    else out.set(key, { kernel: k, users: [k.id] });
  }
  return [...out.values()];
}

/** All distinct kernels as one text. */
export function dumpKernels(plan: GraphKernels): string {
  return distinctKernels(plan)
    .map(({ kernel, users }) => `// ===== ${users.length > 1 ? `${kernel.template}, used by ${users.join(', ')}` : kernel.id}\n${kernel.source}`)
    .join('\n');
}
