/** `add`: elementwise sum (residual connections, shared experts). */
import { defineOp, f32 } from './op_def.ts';

export const add = defineOp({
  kind: 'add',
  signature: { inputs: { a: f32(2), b: f32(2) }, outputs: { y: f32(2) }, attrs: {} },
  doc: { section: 'model', math: '`a, b → y = a + b`.', backward: '`da += dy`, `db += dy`.' },
  infer: (op, shape) => ({ y: shape(op.inputs.a) }),
  verify: (op, shape) => (shape(op.inputs.a).join() !== shape(op.inputs.b).join() ? 'a and b differ in shape' : undefined),
  flops: (op, shape) => shape(op.inputs.a)[0]! * shape(op.inputs.a)[1]!,
});
