/**
 * `moec export --format hf`: the Mixtral and Qwen2-MoE folders hold the
 * same model as the export's model.py — logits equal within 1e-5 of the
 * largest logit, computed from the HF folder the way those families'
 * transformers code does (tests/export/hf_reference.py), on weights scaled
 * up from the initialisation (std 0.3) so a wrong rotary pairing or
 * expert order shows. Specs outside the families are refused with the
 * list of what differs, and nothing is written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lowerModel } from '../../compiler/lower.ts';
import { saveCheckpoint } from '../../runtime/checkpoint.ts';
import { Rng } from '../../runtime/rng.ts';
import { readSafetensors, type StTensor } from '../../runtime/safetensors.ts';
import { hasStackTrace, moec, show, TempDirs, writeSpec } from '../training/helpers.ts';
import { runPython, specAt } from './pytorch.ts';

const tmp = new TempDirs();
afterAll(() => tmp.cleanup());
const dir = tmp.make('moec-hf-');

/** A moec checkpoint of the spec at `path` with random weights of std 0.3 (norm weights around 1). */
function randomCheckpoint(path: string, out: string): void {
  const spec = specAt(path);
  const graph = lowerModel(spec);
  const tensors = new Map<string, StTensor>();
  for (const t of graph.tensors.values()) {
    if (t.role !== 'param' && t.role !== 'frozen' && t.role !== 'state') continue;
    const rng = Rng.forName(7, t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const norm = /norm\.weight$/.test(t.name);
    tensors.set(t.name, { dtype: 'F32', shape: t.shape, data: Float32Array.from({ length: n }, () => (norm ? 1 : 0) + 0.3 * rng.normal()) });
  }
  const o = spec.train.optimizer;
  saveCheckpoint(out, tensors, {
    format: 1,
    spec: { path, text: spec.source.text },
    step: 0,
    totalSteps: spec.train.steps,
    seed: 7,
    rng: [1, 2, 3, 4],
    optimizer: { kind: o.kind, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay },
    data: 'test',
    savedAt: '2026-01-01T00:00:00.000Z',
  });
}

const qwen = readFileSync('specs/routing/qwen_moe.moe', 'utf8');
const CASES: [string, string, string][] = [
  ['mixtral', readFileSync('specs/routing/mixtral.moe', 'utf8'), 'MixtralForCausalLM'],
  ['qwen_moe', qwen, 'Qwen2MoeForCausalLM'],
  // An ungated shared expert (gate 0, down doubled), raw gates and a dense first block.
  ['qwen_ungated_dense', qwen.replace('gate sigmoid', 'gate none').replace('ffn moe {', 'ffn moe first_dense 1 {').replace('depth 2', 'depth 3'), 'Qwen2MoeForCausalLM'],
  // Raw gates and no shared expert: Qwen2-MoE with a zero shared expert.
  ['qwen_no_shared', qwen.replace(/\n\s*shared 1 \{[^}]*\}/, ''), 'Qwen2MoeForCausalLM'],
];

describe('moec export --format hf writes the model its family computes', () => {
  for (const [name, text, arch] of CASES) {
    it(`${name}: ${arch}, logits equal model.py's`, () => {
      const spec = writeSpec(dir, name, text);
      const ckpt = join(dir, `${name}.safetensors`);
      randomCheckpoint(spec, ckpt);
      const out = join(dir, `${name}-export`);
      const r = moec(['export', spec, '--target', 'pytorch', '-o', out, '--format', 'hf', '--checkpoint', ckpt]);
      expect(r.status, show(r)).toBe(0);
      const config = JSON.parse(readFileSync(join(out, 'hf', 'config.json'), 'utf8')) as { architectures: string[] };
      expect(config.architectures).toEqual([arch]);
      const result = join(dir, `${name}.logits.safetensors`);
      runPython(['tests/export/hf_reference.py', out, ckpt, result]);
      const t = readSafetensors(result).tensors;
      const ours = t.get('export_logits')!.data;
      const theirs = t.get('hf_logits')!.data;
      let scale = 0;
      let err = 0;
      for (let i = 0; i < theirs.length; i++) {
        scale = Math.max(scale, Math.abs(theirs[i]!));
        err = Math.max(err, Math.abs(ours[i]! - theirs[i]!));
      }
      expect(scale).toBeGreaterThan(1);
      expect(err / scale).toBeLessThan(1e-5);
    });
  }
});

describe('specs outside the families are refused', () => {
  for (const file of ['switch.moe', 'deepseek_v3_style.moe', 'expert_choice.moe', 'dense.moe', 'routing/deepseek_v3.moe', 'routing/per_layer.moe']) {
    it(file, () => {
      const out = join(dir, `refused-${file.replace('/', '-')}`);
      const r = moec(['export', `specs/${file}`, '--target', 'pytorch', '-o', out, '--format', 'hf']);
      expect(r.status, show(r)).toBe(1);
      expect(r.stderr).toMatch(/is not an instance of a model family with a Hugging Face format/);
      expect(r.stderr).toMatch(/\n {2}hint: /);
      expect(hasStackTrace(r.stderr)).toBe(false);
      if (file.includes('deepseek_v3')) expect(r.stderr).toMatch(/multi-head latent attention/);
      expect(existsSync(out)).toBe(false);
    });
  }
  it('a checkpoint of another spec is refused with the spec it belongs to', () => {
    const ckpt = join(dir, 'other.safetensors');
    randomCheckpoint('specs/routing/qwen_moe.moe', ckpt);
    const r = moec(['export', 'specs/routing/mixtral.moe', '--target', 'pytorch', '-o', join(dir, 'wrong'), '--format', 'hf', '--checkpoint', ckpt]);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/was not written for this spec|a different shape of model/);
    expect(r.stderr).toMatch(/qwen_moe\.moe/);
  });
});
