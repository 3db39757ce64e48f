/**
 * The routing tables every selection produces, shared by the signatures of
 * assign, select_top_c and select_all: which row each kept choice got, which
 * token each row holds, where each expert's rows start, and per-expert counts.
 */
import { f32, i32, type ShapeOf } from './op_def.ts';

export const ROUTING_TABLES = {
  token_slot: i32(2, 'row of each kept choice, −1 when dropped'),
  slot_token: i32(1, 'token of each row, −1 for unused rows'),
  expert_offsets: i32(1, '[E+1] exclusive prefix sum of load'),
  load: i32(1, '[E] kept choices per expert'),
  demand: i32(1, '[E] choices per expert before capacity'),
} as const;

/** Selection outputs of selections that fill the tables themselves. */
export const SELECTION_OUTPUTS = { token_expert: i32(2), token_gate: f32(2), ...ROUTING_TABLES } as const;

/** Expected table shapes for N tokens, K choices each, E experts and R rows. */
export function tableShapes(N: number, K: number, E: number, R: number) {
  return { token_slot: [N, K], slot_token: [R], expert_offsets: [E + 1], load: [E], demand: [E] };
}

/** [N, E] of a probs operand. */
export function probsShape(shape: ShapeOf, probs: string): [number, number] {
  return shape(probs) as [number, number];
}
