/**
 * The verifier GraphBuilder runs on every op it adds (and every state
 * update): operands against the kind's signature (required roles present,
 * no unknown roles, dtype and rank), attributes against their declared types
 * and enum values, output shapes against the kind's shape inference, then the
 * kind's own checks. A lowering bug fails here, at compile time, naming the
 * op and the operand, instead of as a wrong kernel later.
 */
import type { Tensor } from '../tensor.ts';
import type { AttrSpec, OperandSpec } from './op_def.ts';
import { defOf, OP_DEFS, type OpKind } from './registry.ts';

/** What the verifier reads of an op before it is known to be well-typed. */
export interface UncheckedOp {
  readonly name: string;
  readonly kind: string;
  readonly inputs: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  readonly attrs: Readonly<Record<string, unknown>>;
}

function operandProblems(side: 'input' | 'output', given: Readonly<Record<string, string>>, specs: Readonly<Record<string, OperandSpec>>, tensor: (name: string) => Tensor | undefined): string[] {
  const out: string[] = [];
  for (const role of Object.keys(given)) if (!(role in specs)) out.push(`unknown ${side} ${role}`);
  for (const [role, spec] of Object.entries(specs)) {
    const name = given[role];
    if (name === undefined) {
      if (!spec.optional) out.push(`missing ${side} ${role}`);
      continue;
    }
    const t = tensor(name);
    if (!t) out.push(`${side} ${role} is the undeclared tensor ${name}`);
    else if (t.dtype !== spec.dtype || t.shape.length !== spec.rank) out.push(`${side} ${role} (${name}) is ${t.dtype}[${t.shape.join(', ')}], expected ${spec.dtype} of rank ${spec.rank}`);
  }
  return out;
}

function attrProblem(name: string, spec: AttrSpec, v: unknown): string | undefined {
  switch (spec.type) {
    case 'int':
      return Number.isSafeInteger(v) && (v as number) >= (spec.min ?? 0) ? undefined : `attr ${name}=${String(v)} is not an integer ≥ ${spec.min ?? 0}`;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : `attr ${name}=${String(v)} is not a finite number`;
    case 'bool':
      return typeof v === 'boolean' ? undefined : `attr ${name}=${String(v)} is not a boolean`;
    case 'enum':
      return typeof v === 'string' && spec.values.includes(v) ? undefined : `attr ${name}=${String(v)} is not one of ${spec.values.join(', ')}`;
  }
}

/** Throws `internal: op NAME (KIND): problems` when the op does not fit its kind's definition. */
export function verifyOp(op: UncheckedOp, tensor: (name: string) => Tensor | undefined): void {
  if (!(op.kind in OP_DEFS)) throw new Error(`internal: op ${op.name} has unknown kind ${op.kind}`);
  const def = defOf(op.kind as OpKind);
  const sig = def.signature;
  const problems = [...operandProblems('input', op.inputs, sig.inputs, tensor), ...operandProblems('output', op.outputs, sig.outputs, tensor)];
  for (const k of Object.keys(op.attrs)) if (!(k in sig.attrs)) problems.push(`unknown attr ${k}`);
  for (const [k, spec] of Object.entries(sig.attrs)) {
    const p = attrProblem(k, spec, op.attrs[k]);
    if (p) problems.push(p);
  }
  if (problems.length === 0) {
    const shape = (t: string) => tensor(t)!.shape;
    const typed = op as never;
    for (const [role, want] of Object.entries(def.infer(typed, shape)) as [string, readonly number[] | undefined][]) {
      const name = op.outputs[role];
      if (want && name && shape(name).join() !== want.join()) problems.push(`output ${role} (${name}) is [${shape(name).join(', ')}], its inputs give [${want.join(', ')}]`);
    }
    const extra = def.verify?.(typed, shape);
    if (extra) problems.push(extra);
  }
  if (problems.length) throw new Error(`internal: op ${op.name} (${op.kind}): ${problems.join('; ')}`);
}
