/**
 * PyTorch emitters of the router losses and the loss-free bias update.
 * Every loss is written as this rank's share of the objective — sums over
 * its own tokens divided by the tokens (or sequences) of all ranks — so that
 * with data parallelism the shares add up to the loss of one process, and
 * their gradients are the same. Expert counts are those of every rank.
 */
import { pyNum, type PyTable } from '../py_op.ts';

/** The loss ops' emitters. */
export const LOSSES_PY: PyTable<'balance_loss' | 'global_balance_loss' | 'z_loss' | 'sequence_balance_loss' | 'l1_loss' | 'bias_update'> = {
  balance_loss: ({ op, v, dim }) => {
    const E = dim(op.inputs.probs, 1);
    return [
      `f = ${v(op.inputs.demand)}.float() / (N_all * ${op.attrs.k})  # each expert's share of the choices (no gradient)`,
      `${v(op.outputs.loss)} = ${pyNum(op.attrs.alpha * E)} * (f * ${v(op.inputs.probs)}.sum(0) / N_all).sum()`,
    ];
  },

  global_balance_loss: ({ op, v, dim }) => {
    const E = dim(op.inputs.probs, 1);
    return [
      '# Counts add up over the micro-batches of a training step (afresh each step); elsewhere, this micro-batch only.',
      'if self.training:',
      '    if self.balance_step != self.step:',
      `        self.balance_counts, self.balance_tokens, self.balance_step = torch.zeros(${E}, dtype=torch.long), 0, self.step`,
      `    counts = self.balance_counts + ${v(op.inputs.demand)}.cpu()`,
      '    tokens = self.balance_tokens + N_all',
      '    self.balance_counts, self.balance_tokens = counts, tokens',
      'else:',
      `    counts, tokens = ${v(op.inputs.demand)}.cpu(), N_all`,
      `f = counts.float().to(${v(op.inputs.probs)}.device) / (tokens * ${op.attrs.k})`,
      `${v(op.outputs.loss)} = ${pyNum(op.attrs.alpha * E)} * (f * ${v(op.inputs.probs)}.sum(0) / N_all).sum()`,
    ];
  },

  z_loss: ({ op, v }) => [`${v(op.outputs.loss)} = ${pyNum(op.attrs.beta)} * (torch.logsumexp(${v(op.inputs.logits)}, -1) ** 2).sum() / N_all`],

  sequence_balance_loss: ({ op, v, dim }) => {
    const E = dim(op.inputs.probs, 1);
    const te = v(op.inputs.token_expert);
    return [
      `counts = F.one_hot(${te}.clamp(min=0), ${E}).mul((${te} >= 0)[..., None]).sum(1).view(B, S, ${E}).sum(1).float()  # choices per sequence and expert`,
      `mean_probs = ${v(op.inputs.probs)}.view(B, S, ${E}).mean(1)`,
      `${v(op.outputs.loss)} = ${pyNum(op.attrs.alpha)} / B_all * (${E} / (${op.attrs.k} * S)) * (counts * mean_probs).sum()`,
    ];
  },

  l1_loss: ({ op, v }) => [`${v(op.outputs.loss)} = ${pyNum(op.attrs.lambda)} * ${v(op.inputs.probs)}.abs().sum() / N_all`],

  bias_update: ({ op, v, dim }) => {
    const E = dim(op.inputs.demand, 0);
    return [
      '# After each optimizer step, from the last micro-batch: over-used experts down, under-used up (compared in integers).',
      `${v(op.outputs.bias)} += ${pyNum(op.attrs.rate)} * torch.sign((${v(op.inputs.demand)}.sum() - ${E} * ${v(op.inputs.demand)}).float()).to(${v(op.outputs.bias)}.device)`,
    ];
  },
};
