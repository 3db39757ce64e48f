/**
 * PyTorch emitters of the expert ops: expert_ffn (each expert on its rows,
 * or, with expert parallelism, the rows sent to the rank that owns the
 * expert and back), combine, scale_rows, the mixing ops of Mixture of
 * Tokens and Soft MoE (mix_weights, mix, unmix) and the adapter experts of
 * MoV and MoLoRA (ia3_scale, lora_linear). Row layouts are moec's
 * (docs/IR.md), so routing tables mean the same thing here.
 */
import { activationCall } from './model.ts';
import { pyNum, type PyOpContext, type PyTable } from '../py_op.ts';
import type { OpOf } from '../../../compiler/ir.ts';

/** Group geometry of a mixing op as Python: `members` sequences per group (G), or whole sequences (0). */
function grouped(ctx: PyOpContext<OpOf<'mix_weights'> | OpOf<'mix'> | OpOf<'unmix'>>, t: string, last: string): string {
  const G = ctx.op.attrs.group;
  // [N, X] as [groups of sequences, members, positions, X] (G > 0), or [sequences, positions, X] (Soft MoE).
  return G > 0 ? `${t}.view(B // ${G}, ${G}, S, ${last})` : `${t}.view(B, S, ${last})`;
}

/** The expert ops' emitters. */
export const EXPERTS_PY: PyTable<'expert_ffn' | 'combine' | 'scale_rows' | 'mix_weights' | 'mix' | 'unmix' | 'ia3_scale' | 'lora_linear'> = {
  expert_ffn: ({ op, v, dim }) => {
    const [E, H, d] = [dim(op.inputs.up, 0), dim(op.inputs.up, 1), dim(op.inputs.up, 2)];
    const up = v(op.inputs.up);
    const gate = op.inputs.gate ? v(op.inputs.gate) : undefined;
    const ffn = [
      'def expert(xe, e):',
      `    """Expert e's FFN (e counts this rank's experts) on its rows: down · ${op.attrs.activation}(up · x)."""`,
      `    h = ${activationCall(op.attrs.activation, `xe @ ${up}[e].t()`, gate ? `xe @ ${gate}[e].t()` : undefined)}`,
      `    return h @ ${v(op.inputs.down)}[e].t()`,
    ];
    const x = v(op.inputs.x);
    const out = v(op.outputs.out);
    if (!op.attrs.gather) {
      // Mixing routers: rows come in equal blocks per expert, already in order.
      return [...ffn, `rows = ${x}.view(${E}, -1, ${d})`, `${out} = torch.cat([expert(rows[e], e) for e in range(${E})])`];
    }
    const offsets = v(op.inputs.expert_offsets!);
    const slotToken = v(op.inputs.slot_token!);
    return [
      ...ffn,
      'if self.ranks.world > 1:',
      `    # Expert parallelism: each row goes to the rank that owns its expert and comes back (moec_support.expert_parallel).`,
      `    ${out} = moec_support.expert_parallel(${x}, ${slotToken}, ${offsets}, self.ranks, expert)`,
      'else:',
      `    ${out} = torch.cat([expert(${x}[${slotToken}[${offsets}[e]:${offsets}[e + 1]]], e) for e in range(${E})] + [${x}.new_zeros(0, ${d})])`,
      `# ${H} hidden units per expert; rows of a dropped or null choice do not exist.`,
    ];
  },

  combine: ({ op, v, dim }) => {
    const d = dim(op.inputs.expert_out, 1);
    const out = v(op.inputs.expert_out);
    const slot = v(op.inputs.token_slot);
    const lines = [
      `rows = torch.cat([${out}, ${out}.new_zeros(1, ${d})])  # the extra last row stands for no row (dropped, null, unused)`,
      `picked = rows[torch.where(${slot} >= 0, ${slot}, torch.full_like(${slot}, ${out}.shape[0]))]  # [N, k, ${d}]`,
    ];
    lines.push(op.inputs.token_gate ? `${v(op.outputs.y)} = (${v(op.inputs.token_gate)}[..., None] * picked).sum(1)` : `${v(op.outputs.y)} = picked.sum(1)  # the gates were applied to the inputs`);
    return lines;
  },

  scale_rows: ({ op, v }) => [`${v(op.outputs.y)} = ${v(op.inputs.x)} * ${v(op.inputs.scale)}`],

  mix_weights: (ctx) => {
    const { op, v, dim } = ctx;
    const slots = dim(op.inputs.logits, 1);
    const logits = v(op.inputs.logits);
    const lines = [
      `# dispatch: for each slot, a softmax over the tokens of a group (${op.attrs.group > 0 ? `${op.attrs.group} sequences at one position` : 'one sequence'})`,
      `${v(op.outputs.dispatch)} = torch.softmax(${grouped(ctx, logits, String(slots))}, 1).reshape(N, ${slots})`,
    ];
    const unmix: Record<typeof op.attrs.unmix, string> = {
      dispatch: `${v(op.outputs.combine_weights)} = ${v(op.outputs.dispatch)}`,
      slot_softmax: `${v(op.outputs.combine_weights)} = torch.softmax(${logits}, -1)  # over slots`,
    };
    return [...lines, unmix[op.attrs.unmix]];
  },

  mix: (ctx) => {
    const { op, v, dim } = ctx;
    const slots = dim(op.inputs.dispatch, 1);
    const d = dim(op.inputs.x, 1);
    const p = op.attrs.slots;
    const G = op.attrs.group;
    const w = grouped(ctx, v(op.inputs.dispatch), String(slots));
    const x = grouped(ctx, v(op.inputs.x), String(d));
    const mixed = G > 0 ? `torch.einsum('gmpk,gmpd->gpkd', ${w}, ${x}).reshape(-1, ${slots}, ${d})` : `torch.einsum('bsk,bsd->bkd', ${w}, ${x})`;
    return [
      `mixed = ${mixed}  # [groups, slots, ${d}]: each slot a weighted sum of its group's tokens`,
      `# Row of slot e·${p} + j of group g: e·(groups·${p}) + g·${p} + j (expert-major, as the expert FFN reads them).`,
      `${v(op.outputs.slots_in)} = mixed.view(-1, ${slots / p}, ${p}, ${d}).permute(1, 0, 2, 3).reshape(-1, ${d})`,
    ];
  },

  unmix: (ctx) => {
    const { op, v, dim } = ctx;
    const slots = dim(op.inputs.combine_weights, 1);
    const d = dim(op.inputs.expert_out, 1);
    const p = op.attrs.slots;
    const G = op.attrs.group;
    const cw = grouped(ctx, v(op.inputs.combine_weights), String(slots));
    const out = `${v(op.inputs.expert_out)}.view(${slots / p}, -1, ${p}, ${d}).permute(1, 0, 2, 3).reshape(-1, ${slots}, ${d})`;
    const y = G > 0 ? `torch.einsum('gmpk,gpkd->gmpd', ${cw}, ${out}.view(B // ${G}, S, ${slots}, ${d}))` : `torch.einsum('bsk,bkd->bsd', ${cw}, ${out})`;
    return [`${v(op.outputs.y)} = ${y}.reshape(N, ${d})  # each token: its combine weights times its group's slot outputs`];
  },

  ia3_scale: ({ op, v }) => {
    const te = v(op.inputs.token_expert);
    return [
      `picked = ${v(op.inputs.scale)}[${te}.clamp(min=0)] * (${te} >= 0)[..., None]  # [N, k, H]`,
      `${v(op.outputs.y)} = ${v(op.inputs.x)} * (${v(op.inputs.token_gate)}[..., None] * picked).sum(1)`,
    ];
  },

  lora_linear: ({ op, v }) => {
    const te = v(op.inputs.token_expert);
    const x = v(op.inputs.x);
    return [
      `down = torch.einsum('ni,nkri->nkr', ${x}, ${v(op.inputs.lora_a)}[${te}.clamp(min=0)])  # [N, k, r]`,
      `update = torch.einsum('nkr,nkor->nko', down, ${v(op.inputs.lora_b)}[${te}.clamp(min=0)])`,
      `gates = ${v(op.inputs.token_gate)} * (${te} >= 0)`,
      `${v(op.outputs.y)} = ${x} @ ${v(op.inputs.weight)}.t() + ${pyNum(op.attrs.scale)} * (gates[..., None] * update).sum(1)`,
    ];
  },
};
