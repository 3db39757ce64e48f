/** `position_add`: learned absolute position embeddings. */
import { defineOp, f32, int } from './op_def.ts';

export const position_add = defineOp({
  kind: 'position_add',
  signature: { inputs: { x: f32(2), table: f32(2) }, outputs: { y: f32(2) }, attrs: { seq: int('sequence length S', 1) } },
  doc: {
    section: 'model',
    math: '`x [N, d], table [P, d] → y`, attr `seq`: `y[t] = x[t] + table[t mod seq]`.',
    backward: '`dx += dy`; `dtable[s] += Σ_b dy[b·seq + s]`.',
  },
  infer: (op, shape) => ({ y: shape(op.inputs.x) }),
  verify: (op, shape) => (shape(op.inputs.table)[1] !== shape(op.inputs.x)[1] ? 'table width differs from x' : shape(op.inputs.table)[0]! < op.attrs.seq ? 'table has fewer rows than seq' : undefined),
  flops: (op, shape) => shape(op.inputs.x)[0]! * shape(op.inputs.x)[1]!,
});
