/**
 * The grouping attributes shared by mix_weights, mix and unmix (Mixture of
 * Tokens groups across sequences, Soft MoE groups a whole sequence), and the
 * check that they agree with each other.
 */
import { int } from './op_def.ts';

export const GROUP_ATTRS = {
  group: int('G tokens at one position across G sequences; 0 = a whole sequence'),
  batch: int('sequences B', 1),
  seq: int('sequence length S', 1),
  groups: int('groups formed from the batch', 1),
} as const;

/** A problem with the grouping attributes for `tokens` rows, or nothing. */
export function checkGroups(a: { group: number; batch: number; seq: number; groups: number }, tokens: number): string | undefined {
  if (tokens !== a.batch * a.seq) return 'rows differ from batch × seq';
  const want = a.group === 0 ? a.batch : a.batch % a.group === 0 ? (a.batch / a.group) * a.seq : NaN;
  return want === a.groups ? undefined : `groups ${a.groups} do not follow from group ${a.group}, batch ${a.batch}, seq ${a.seq}`;
}
