/**
 * Sizes against the device, decided before anything is allocated:
 *   - `moec check` reports the memory a spec needs for training (parameters,
 *     optimizer state, gradients, activations, the largest buffer) and warns
 *     (W303), at the key that sets the size, about buffers above what WebGPU
 *     guarantees;
 *   - the total against the memory budget (MOEC_MEMORY_BUDGET_GIB here, so
 *     the test does not depend on this machine's RAM) is an error (E206) in
 *     `check`, `check --device`, `train` and `test`, which then allocate and
 *     write nothing and show no WebGPU text or "bug in moec";
 *   - each kernel's grid is compared with maxComputeWorkgroupsPerDimension;
 *   - memory figures add up to the parameter count of the spec.
 * `check --device`, `train` and `test` need a WebGPU adapter (fail without one).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fitProblems, memoryReport, WEBGPU_DEFAULT_LIMITS } from '../../codegen/device_fit.ts';
import { planKernels, trainPlan } from '../../codegen/train_plan.ts';
import { DEFAULT_TARGET } from '../../codegen/wgsl/kernel.ts';
import { numel } from '../../compiler/ir.ts';
import { keySpan, keysOfShape } from '../../compiler/key_span.ts';
import { hasStackTrace, moec, parseSpec, show, TempDirs, writeSpec } from './helpers.ts';

const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

/** A model whose embedding alone is 512 MiB: beyond WebGPU's guaranteed 128 MiB per binding. */
const WIDE_VOCAB = `model wide {
  vocab 65536  context 16  width 2048  depth 1  heads 4
  ffn moe every 1 {
    experts 4 { hidden 64  activation gelu }
    route token_choice { top_k 1  capacity_factor 1.25 }
  }
}
train { data synthetic  batch 2  steps 2  optimizer adamw { lr 3e-3 }  seed 1 }
`;

/** A small model, for the budget: about 670 KiB in all for training, less for each of moec test's scenarios. */
const SMALL = `model small {
  vocab 256  context 16  width 32  depth 1  heads 2
  ffn moe every 1 {
    experts 4 { hidden 64  activation gelu }
    route token_choice { top_k 1  capacity_factor 1.25 }
  }
}
train { data synthetic  batch 2  steps 2  optimizer adamw { lr 3e-3 }  seed 1 }
`;

const TINY_BUDGET = { MOEC_MEMORY_BUDGET_GIB: '0.00001' };

describe('moec check: memory and portable limits', () => {
  it('reports the memory for training and warns at `vocab` about a 512 MiB embedding', () => {
    const path = writeSpec(tmp.make('moec-fit-'), 'wide', WIDE_VOCAB);
    const r = moec(['check', path]);
    expect(r.status, show(r)).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:3: warning W303: buffer \`embed.weight\` \\[65536, 2048\\] needs 512.0 MiB; WebGPU guarantees 128.0 MiB per buffer \\(maxStorageBufferBindingSize\\) \\(its size is set by vocab × width\\)$`, 'm'));
    expect(r.stderr).toMatch(/memory for training: parameters \d+\.\d MiB, optimizer state \d+\.\d GiB, gradients \d+\.\d MiB, activations \d+\.\d MiB; total \d+\.\d GiB/);
    expect(r.stderr).toContain('largest buffer: embed.weight 512.0 MiB');
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  it('refuses a total above the memory budget (E206 at the model line), exit 1', () => {
    const path = writeSpec(tmp.make('moec-fit-'), 'small', SMALL);
    const r = moec(['check', path], { env: TINY_BUDGET });
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/:1:1: error E206: the model needs \d+\.\d KiB of buffers in all \(parameters .*\); the memory budget is 10.5 KiB \(MOEC_MEMORY_BUDGET_GIB=0.00001\)/);
    expect(r.stderr).toContain('does not fit');
  });
});

describe('commands that allocate check first', () => {
  for (const args of [['check', '--device'], ['test'], ['train']]) {
    it(`moec ${args.join(' ')} refuses a model over the budget before allocating or writing anything`, () => {
      const dir = tmp.make('moec-fit-');
      const path = writeSpec(dir, 'small', SMALL);
      const out = join(dir, 'run');
      const r = moec([...args, path, ...(args[0] === 'train' ? ['--out', out] : [])], { env: TINY_BUDGET });
      expect(r.status, show(r)).toBe(1);
      expect(r.stderr).toContain('error E206: the model needs');
      expect(r.stderr).not.toMatch(/bug in moec|internal error|GPUValidationError|WebGPU error/);
      expect(hasStackTrace(r.stderr), show(r)).toBe(false);
      if (args[0] === 'train') {
        expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(false);
        expect(existsSync(join(out, 'compiled'))).toBe(false);
        expect(existsSync(out) ? readdirSync(out).filter((f) => f !== 'train.lock') : []).toEqual([]);
      }
    });
  }
});

describe('the fit check itself', () => {
  const spec = parseSpec(WIDE_VOCAB, 'wide.moe');
  const plan = trainPlan(spec, DEFAULT_TARGET);

  it('adds memory up by kind; parameters are 4 bytes per parameter and AdamW keeps two moments of each trained one', () => {
    const m = memoryReport(plan.graph, plan.buffers);
    const params = [...plan.graph.tensors.values()].filter((t) => t.role === 'param');
    const trained = params.reduce((n, t) => n + numel(t.shape), 0);
    expect(m.parameters).toBeGreaterThanOrEqual(4 * trained);
    expect(m.optimizer).toBe(8 * trained);
    expect(m.total).toBe(m.parameters + m.optimizer + m.gradients + m.activations);
    expect(m.largest).toEqual({ name: 'embed.weight', bytes: 65536 * 2048 * 4 });
  });

  it('names the grid limit when a kernel needs more workgroups than a dimension allows', () => {
    const limits = { ...WEBGPU_DEFAULT_LIMITS, maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 31, maxComputeWorkgroupsPerDimension: 16 };
    const narrow = trainPlan(spec, { ...DEFAULT_TARGET, maxComputeWorkgroupsPerDimension: 16 });
    const problems = fitProblems(narrow.graph, narrow.buffers, planKernels(narrow), limits, undefined);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/^kernel \S+ needs a grid of 16 x \d+ x 1 workgroups; this adapter allows 16 per dimension \(maxComputeWorkgroupsPerDimension\)$/);
    expect(problems[0]!.origin.line).toBeGreaterThan(0);
  });

  it('finds the key that sets a size, on the op\'s own line when the key appears twice', () => {
    expect(keysOfShape(spec, [65536, 2048], 'embed.weight')).toEqual(['vocab', 'width']);
    expect(keysOfShape(spec, [32, 2048], 'x')).toEqual(['width', 'batch', 'context']);
    const text = 'model m {\n  width 8  # width 9\n  ffn moe { experts 2 { hidden 8 } }\n  shared 1 { hidden 4 }\n}\n';
    expect(keySpan(text, 'width')).toEqual({ start: 12, end: 17 });
    expect(keySpan(text, 'hidden', 4)).toEqual({ start: text.lastIndexOf('hidden'), end: text.lastIndexOf('hidden') + 6 });
    expect(keySpan(text, 'hidden')).toEqual({ start: text.indexOf('hidden'), end: text.indexOf('hidden') + 6 });
    expect(keySpan(text, 'vocab')).toBeUndefined();
  });
});
