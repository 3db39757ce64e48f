/**
 * The folders are pipeline stages: each imports only from earlier ones, no
 * files import each other in a loop, and nothing reads ../shared at run or
 * test time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Stage order; a file may import from its own stage and the ones before it. */
const STAGES = ['compiler', 'codegen', 'runtime', 'report', 'editor', 'playground', 'cli'];
const ALL = [...STAGES, 'bench', 'scripts', 'tests'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === '__snapshots__' ? [] : files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g), ...text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)].map((m) => normalize(join(dirname(file), m[1]!)));
}

const stageOf = (p: string) => p.split('/')[0]!;

describe('project structure', () => {
  const all = ALL.flatMap(files);

  it('each stage imports only from itself and earlier stages', () => {
    const bad: string[] = [];
    for (const f of all) {
      const from = stageOf(f);
      const rank = STAGES.indexOf(from);
      for (const target of imports(f)) {
        const to = stageOf(target);
        if (rank >= 0 && STAGES.indexOf(to) > rank) bad.push(`${f} -> ${target}`);
        if (STAGES.includes(to) && !ALL.includes(to)) bad.push(`${f} -> ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no import cycles between files', () => {
    const graph = new Map(all.map((f) => [f, imports(f).filter((t) => all.includes(t))]));
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'visiting');
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of all) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('nothing depends on ../shared', () => {
    const offenders = all.filter((f) => /\.\.\/shared|['"]\.\.\/\.\.\/shared/.test(readFileSync(f, 'utf8')) && !f.endsWith('stages.test.ts'));
    expect(offenders.map((f) => relative('.', f))).toEqual([]);
  });
});
