/** `embed`: token embedding lookup. */
import { defineOp, f32, i32 } from './op_def.ts';

export const embed = defineOp({
  kind: 'embed',
  signature: { inputs: { ids: i32(1), table: f32(2) }, outputs: { y: f32(2) }, attrs: {} },
  doc: {
    section: 'model',
    math: '`ids [N] i32, table [V, d] → y [N, d]`: `y[t] = table[ids[t]]`.',
    backward: '`dtable[v] += Σ_{t: ids[t]=v} dy[t]`.',
  },
  infer: (op, shape) => ({ y: [shape(op.inputs.ids)[0]!, shape(op.inputs.table)[1]!] }),
  flops: () => 0,
});
