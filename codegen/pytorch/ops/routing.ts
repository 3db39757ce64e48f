/**
 * PyTorch emitters of the routing ops: the router (logits, jitter, score
 * function), Sinkhorn, the token-choice selection with every option the
 * language has, capacity and row assignment, and the per-expert selections.
 * The selection is written out as the steps of docs/ROUTING.md ("Composing
 * token choice"), only the steps the spec uses. Ranking never carries a
 * gradient (`detach`); gates do, through the scores they copy.
 *
 * With expert parallelism (`ranks.world > 1`) each rank routes its own
 * tokens, and the capacity decisions, which look at every token of the
 * micro-batch, are taken on the choices of all ranks (gathered), so they are
 * exactly those of one process.
 */
import type { RoutingCore } from '../../../compiler/routing_core.ts';
import { pyNum, type PyOpContext, type PyTable } from '../py_op.ts';

/** The Python class of an elementwise score function's autograd Function (model.py defines it). */
export function scoreClass(score: string): string {
  return `${score[0]!.toUpperCase()}${score.slice(1)}Score`;
}

/** Python for a capacity of `tokens` tokens (a Python expression) under token choice: min(T, ceil(f·k·T/E)). */
function capacityOf(core: RoutingCore, tokens: string, experts: number): string {
  return `min(${tokens}, math.ceil(${pyNum(core.capacityFactor!)} * ${core.topK} * ${tokens} / ${experts}))`;
}

function routing(ctx: PyOpContext): RoutingCore {
  if (!ctx.layer) throw new Error(`internal: ${ctx.op.name} is a routing op outside an MoE layer`);
  return ctx.layer.routing;
}

/** The routing ops' emitters. */
export const ROUTING_PY: PyTable<'router' | 'sinkhorn' | 'select_top_k' | 'assign' | 'select_top_c' | 'select_all'> = {
  router: ({ op, v, dim }) => {
    const [S, d] = [dim(op.inputs.weight, 0), dim(op.inputs.weight, 1)];
    const x = v(op.inputs.x);
    const lines: string[] = [];
    let xr = x;
    if (op.attrs.jitter > 0) {
      // Training steps only: x times the same seeded noise the kernels draw (moec_support.jitter_noise).
      lines.push(`noise = moec_support.jitter_noise(SEED, self.step, N, ${d}, ${pyNum(op.attrs.jitter)}, self.ranks.row0(N)).to(${x}) if self.training else 1.0`);
      xr = `(${x} * noise)`;
    }
    const tau = op.inputs.log_temperature ? `torch.exp(${v(op.inputs.log_temperature)})` : pyNum(op.attrs.temperature);
    const divide = op.inputs.log_temperature || op.attrs.temperature !== 1 ? ` / ${tau}` : '';
    lines.push(`${v(op.outputs.logits)} = ${divide ? `(${xr} @ ${v(op.inputs.weight)}.t())${divide}` : `${xr} @ ${v(op.inputs.weight)}.t()`}  # [N, ${S}]`);
    if (op.outputs.probs) {
      const score: Record<typeof op.attrs.score, string> = {
        softmax: `torch.softmax(${v(op.outputs.logits)}, -1)`,
        sigmoid: `${scoreClass('sigmoid')}.apply(${v(op.outputs.logits)})`,
        sqrtsoftplus: `${scoreClass('sqrtsoftplus')}.apply(${v(op.outputs.logits)})`,
        relu: `${scoreClass('relu')}.apply(${v(op.outputs.logits)})`,
      };
      lines.push(`${v(op.outputs.probs)} = ${score[op.attrs.score]}`);
    }
    return lines;
  },

  sinkhorn: ({ op, v, dim }) => {
    const E = dim(op.inputs.logits, 1);
    const z = v(op.inputs.logits);
    return [
      '# Balanced scores to rank by: no gradient flows through them.',
      'with torch.no_grad():',
      `    c = torch.exp(${z} - ${z}.max(-1, keepdim=True).values)`,
      `    d1 = torch.ones(${E}, dtype=c.dtype, device=c.device)`,
      `    for _ in range(${op.attrs.iterations}):`,
      '        d0 = (1 / N_all) / ((c * d1).sum(1) + 1e-8)',
      `        d1 = (1 / ${E}) / (self.ranks.sum((c * d0[:, None]).sum(0)) + 1e-8)`,
      `    ${v(op.outputs.balanced)} = d0[:, None] * c * d1`,
    ];
  },

  select_top_k: (ctx) => {
    const { op, v, dim } = ctx;
    const E = dim(op.inputs.probs, 1);
    const { k, groups: G, top_groups: keep, group_score: how, cut, cut_value: cutValue, scale } = op.attrs;
    const probs = v(op.inputs.probs);
    const te = v(op.outputs.token_expert);
    const gate = v(op.outputs.token_gate);
    const lines: string[] = [];
    if (op.inputs.replay) {
      lines.push(`picks = ${v(op.inputs.replay)}.long()  # routing replay: the recorded picks (-1: none)`, 'keep = picks >= 0');
    } else {
      const base = op.inputs.rank ? v(op.inputs.rank) : probs;
      lines.push(`ranking = ${base}.detach()${op.inputs.bias ? ` + ${v(op.inputs.bias)}` : ''}  # what decides the picks (no gradient)`);
      if (G > 1) {
        const score = how === 'max' ? 'max(-1).values' : 'topk(2, -1).values.sum(-1)';
        lines.push(
          `# Group limit: ${G} groups of ${E / G} experts; each token picks inside its ${keep} best (ties: the lower group).`,
          `group_score = ranking.view(N, ${G}, ${E / G}).${score}`,
          `best_groups = torch.sort(group_score, dim=-1, descending=True, stable=True).indices[:, :${keep}]`,
          `allowed = torch.zeros(N, ${G}, dtype=torch.bool, device=ranking.device).scatter_(1, best_groups, True).repeat_interleave(${E / G}, 1)`,
          "ranking = ranking.masked_fill(~allowed, float('-inf'))",
        );
      }
      lines.push(`picks = torch.sort(ranking, dim=-1, descending=True, stable=True).indices[:, :${k}]  # ties: the lower expert`);
      const cuts: Record<typeof cut, string[]> = {
        none: [],
        top_p: [`before = torch.cumsum(${probs}.detach().gather(1, picks), 1) - ${probs}.detach().gather(1, picks)`, `keep = before < ${pyNum(cutValue)}  # top_p: stop after the pick that reaches ${cutValue}`],
        threshold: [`keep = torch.cumprod((${probs}.detach().gather(1, picks) > ${pyNum(cutValue)}).int(), 1).bool()  # threshold: stop at the first score not above ${cutValue}`],
      };
      lines.push(...cuts[cut]);
    }
    const dynamic = !!op.inputs.replay || cut !== 'none';
    if (dynamic) {
      lines.push(`${te} = torch.where(keep, picks, torch.full_like(picks, -1))`, `${gate} = ${probs}.gather(1, picks.clamp(min=0)) * keep`);
    } else {
      lines.push(`${te} = picks`, `${gate} = ${probs}.gather(1, picks)`);
    }
    if (op.attrs.weights === 'renormalized') {
      lines.push(`total = ${gate}.sum(1, keepdim=True)  # picks whose scores are all 0 keep gates of 0`, `${gate} = ${gate} / torch.where(total > 0, total, torch.ones_like(total))`);
    }
    if (scale !== 1) lines.push(`${gate} = ${gate} * ${pyNum(scale)}  # routed scaling factor`);
    void ctx;
    return lines;
  },

  assign: (ctx) => {
    const { op, v } = ctx;
    const core = routing(ctx);
    const { experts: E, null_experts: nulls, drop, seq, capacity } = op.attrs;
    const all = E + nulls;
    const te = v(op.inputs.token_expert);
    const lines: string[] = [
      `# Every rank decides on the choices of all tokens of the micro-batch (one process: its own).`,
      `choices = self.ranks.gather(${te})  # [N_all, k]`,
      'k = choices.shape[1]',
      'choice = choices.t().reshape(-1)  # priority order: every 1st choice in token order, then every 2nd, ...',
      'token_of = torch.arange(N_all, device=choice.device).repeat(k)',
      `real = (choice >= 0) & (choice < ${E})${nulls ? `  # experts ${E}..${all - 1} are null experts: picked, never computed` : ''}`,
    ];
    if (capacity === 0) {
      lines.push('kept = real  # dropless');
    } else {
      const scope = seq > 0 ? 'S' : 'N_all';
      const key = seq > 0 ? `(token_of // S) * ${all} + choice` : 'choice';
      lines.push(`capacity = ${capacityOf(core, scope, E)}  # per expert${seq > 0 ? ' and sequence' : ''}`);
      if (drop === 'by_probability') {
        lines.push(`gates_all = self.ranks.gather(${v(op.inputs.token_gate!)}.detach()).t().reshape(-1)`, `position = moec_support.rank_within(${key}, order=torch.sort(-gates_all, stable=True).indices)  # the largest gates first, ties in priority order`);
      } else {
        lines.push(`position = moec_support.rank_within(${key})  # in priority order`);
      }
      lines.push('kept = real & (position < capacity)');
    }
    lines.push(
      `demand = torch.bincount(choice[choice >= 0], minlength=${all})`,
      `load = torch.bincount(choice[kept | (choice >= ${E})], minlength=${all})`,
      '# Rows: each expert\'s kept choices, in priority order.',
      `offsets = torch.cat([load.new_zeros(1), torch.cumsum(load[:${E}], 0)])`,
      `row = offsets[choice.clamp(0, ${E - 1})] + moec_support.rank_within(torch.where(kept, choice, torch.full_like(choice, -1)))`,
      'token_slot = torch.where(kept, row, torch.full_like(row, -1)).view(k, N_all).t()',
      `${v(op.outputs.slot_token)} = torch.empty(int(offsets[-1]), dtype=torch.long, device=choice.device).scatter_(0, row[kept], token_of[kept])`,
      `${v(op.outputs.token_slot)} = self.ranks.mine(token_slot)  # this rank's tokens`,
      `${v(op.outputs.expert_offsets)}, ${v(op.outputs.load)}, ${v(op.outputs.demand)} = offsets, load, demand`,
    );
    return lines;
  },

  select_top_c: (ctx) => {
    const { op, v, dim } = ctx;
    const core = routing(ctx);
    const E = dim(op.inputs.probs, 1);
    const probs = v(op.inputs.probs);
    return [
      `c = min(N, math.ceil(${pyNum(core.capacityFactor ?? 1)} * N / ${E}))  # tokens per expert`,
      `best = torch.sort(${probs}.detach().t(), dim=-1, descending=True, stable=True).indices[:, :c]  # [${E}, c]: ties, the lower token`,
      `taken = torch.zeros(N, ${E}, dtype=torch.bool, device=${probs}.device)`,
      `taken[best, torch.arange(${E}, device=best.device)[:, None]] = True`,
      `${v(op.outputs.token_expert)} = torch.where(taken, torch.arange(${E}, device=best.device).expand(N, ${E}), torch.full((N, ${E}), -1, device=best.device))`,
      `${v(op.outputs.token_gate)} = ${probs} * taken`,
      `slot = torch.full((N, ${E}), -1, dtype=torch.long, device=best.device)`,
      `slot[best, torch.arange(${E}, device=best.device)[:, None]] = torch.arange(${E} * c, device=best.device).view(${E}, c)`,
      `${v(op.outputs.token_slot)} = slot`,
      `${v(op.outputs.slot_token)} = best.reshape(-1)`,
      `${v(op.outputs.expert_offsets)} = torch.arange(${E + 1}, device=best.device) * c`,
      `${v(op.outputs.load)} = ${v(op.outputs.demand)} = torch.full((${E},), c, device=best.device)`,
    ];
  },

  select_all: ({ op, v, dim }) => {
    const E = dim(op.inputs.probs, 1);
    const probs = v(op.inputs.probs);
    return [
      `experts = torch.arange(${E}, device=${probs}.device)`,
      `${v(op.outputs.token_expert)} = experts.expand(N, ${E})`,
      `${v(op.outputs.token_gate)} = ${probs}`,
      `${v(op.outputs.token_slot)} = experts[None, :] * N + torch.arange(N, device=${probs}.device)[:, None]`,
      `${v(op.outputs.slot_token)} = torch.arange(N, device=${probs}.device).repeat(${E})`,
      `${v(op.outputs.expert_offsets)} = torch.arange(${E + 1}, device=${probs}.device) * N`,
      `${v(op.outputs.load)} = ${v(op.outputs.demand)} = torch.full((${E},), N, device=${probs}.device)`,
    ];
  },
};
