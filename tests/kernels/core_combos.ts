/** Routing-core combinations no preset names, shared by the GPU proof and the binding checks. */

export interface Combo {
  name: string;
  experts: string;
  route: string;
  batch?: number;
}

/** The combinations (also used by tests/kernels/kernel_bindings.test.ts). */
export const COMBOS: Combo[] = [
  { name: 'sigmoid top-2 raw, capacity 1.0, balance + z', experts: 'experts 6 { hidden 24 activation relu }', route: 'score sigmoid normalize none top_k 2 weights raw capacity_factor 1.0 balance_loss 0.01 z_loss 0.001' },
  { name: 'sqrtsoftplus top-2 renormalized, capacity 0.5 (drops), bias balancing', experts: 'experts 6 { hidden 24 activation gelu }', route: 'score sqrtsoftplus normalize none top_k 2 weights renormalized capacity_factor 0.5 bias_balance 0.01' },
  { name: 'sqrtsoftplus expert choice, factor 1, squared-ReLU experts', experts: 'experts 4 { hidden 12 activation relu2 }', route: 'score sqrtsoftplus normalize none select expert_choice capacity_factor 1' },
  { name: 'softmax top-3 renormalized, dropless, sequence balance', experts: 'experts 5 { hidden 20 activation silu }', route: 'top_k 3 weights renormalized capacity none sequence_balance 0.01' },
  { name: 'learned temperature top-1 with bias balancing', experts: 'experts 4 { hidden 16 activation swiglu }', route: 'top_k 1 temperature 0.5 learn_temperature true bias_balance 0.01' },
  { name: 'sigmoid expert choice with swiglu, factor 0.5', experts: 'experts 4 { hidden 12 activation swiglu }', route: 'score sigmoid normalize none select expert_choice capacity_factor 0.5' },
  { name: 'softmax expert choice, factor 3, learned temperature', experts: 'experts 3 { hidden 8 activation gelu }', route: 'select expert_choice capacity_factor 3 learn_temperature true z_loss 0.01' },
  { name: 'dense soft merge of full experts (select all)', experts: 'experts 3 { hidden 8 activation gelu }', route: 'select all z_loss 0.001' },
  { name: 'sigmoid select-all merge of IA3 adapters', experts: 'experts 4 ia3 { hidden 32 activation relu }', route: 'score sigmoid normalize none select all' },
  { name: 'top-2 routing of LoRA adapters (sparse MoLoRA)', experts: 'experts 4 lora { hidden 32 activation swiglu rank 2 alpha 4 }', route: 'top_k 2 weights renormalized capacity none' },
  { name: 'expert choice over IA3 adapters', experts: 'experts 4 ia3 { hidden 16 activation gelu }', route: 'select expert_choice capacity_factor 2' },
  { name: 'mix within a sequence, unmix with dispatch weights', experts: 'experts 3 { hidden 8 activation relu }', route: 'combine mix unmix dispatch group sequence' },
  { name: 'mix across the batch, slot softmax, 3 slots, learned temperature', experts: 'experts 2 { hidden 8 activation swiglu }', route: 'combine mix unmix slot_softmax group 2 slots 3 learn_temperature true z_loss 0.01', batch: 4 },
  { name: 'mix across the batch in groups of 4, temperature 2', experts: 'experts 3 { hidden 8 activation silu }', route: 'combine mix group 4 temperature 2.0', batch: 4 },
];

/** The spec text of a combination (adapter experts take no shared experts). */
export function comboSpecText(c: Combo): string {
  const text = `model combo {
  vocab 256 context 8 width 16 depth 1 heads 2
  ffn moe {
    ${c.experts}
    shared 1 { hidden 8 }
    route core { ${c.route} }
  }
}
train { batch ${c.batch ?? 4} }
`;
  return c.experts.includes('ia3') || c.experts.includes('lora') ? text.replace(/ {4}shared 1 \{ hidden 8 \}\n/, '') : text;
}
