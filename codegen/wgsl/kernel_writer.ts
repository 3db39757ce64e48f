/**
 * Assembles one WGSL kernel: a header that says where it came from, named
 * storage bindings, a grid that respects the 65,535-workgroups-per-dimension
 * limit, and the body. Every kernel generator goes through this class, so all
 * kernels look alike and snapshot diffs stay small.
 */
import type { DType, Op } from '../../compiler/ir.ts';
import { isDefaultAttr } from '../../compiler/ops/registry.ts';
import type { Origin } from '../../compiler/spec.ts';
import type { Kernel, KernelBinding, Target } from './kernel.ts';

/** Everything a generator needs to know about the op it is lowering (typed by its kind: `OpContext<OpOf<'router'>>`). */
export interface OpContext<O extends Op = Op> {
  readonly op: O;
  readonly target: Target;
  /** The spec file's path, for headers. */
  readonly specPath: string;
  /** Shape of an IR tensor. */
  shape(tensor: string): readonly number[];
  /** Training kernels (router jitter reads the step from train/state); test and layer kernels are not. */
  readonly training: boolean;
  /** The training seed (jitter noise). */
  readonly seed: number;
  /** Whether the backward pass must produce this tensor's gradient. */
  needsGrad(tensor: string): boolean;
  /** Declares an IR tensor's buffer and returns its buffer name. */
  tensor(name: string): string;
  /** Declares a tensor's gradient buffer and returns its name. */
  grad(name: string): string;
  /** Declares a buffer written in forward and read in backward (`op/suffix`). */
  saved(suffix: string, elements: number, dtype?: DType): string;
  /** Declares a temporary buffer used within one pass (`op/suffix`). */
  scratch(suffix: string, elements: number, dtype?: DType): string;
  /** Declares a buffer of compile-time data (`op/suffix`), computed in Float64 and rounded once. */
  constant(suffix: string, data: Float32Array): string;
}

/** A generator of an op's forward and backward kernels, typed by the op it takes. */
export type KernelGenerator<O extends Op> = (ctx: OpContext<O>) => { forward: Kernel[]; backward: Kernel[] };

/** The generators of some op kinds (each ops file exports one; generate.ts joins them). */
export type KernelTable<K extends Op['kind']> = { readonly [P in K]: KernelGenerator<Extract<Op, { kind: P }>> };

/** Threads per workgroup for one-dimensional kernels. */
export const WG = 64;

/**
 * Makes text safe inside a WGSL line comment: printable ASCII only (WGSL
 * treats several Unicode characters as line breaks), so spec text can never
 * end the comment and become code.
 */
export function commentSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').replace(/\*\//g, '* /').replace(/\/\*/g, '/ *');
}

/** A WGSL identifier from a binding name (`token_gate` stays; anything else becomes `_`). */
function wgslIdent(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z]/.test(id) ? id : `b_${id}`;
}

/** Formats a number as a WGSL f32 literal that round-trips. */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal: non-finite constant ${x}`);
  const s = String(Math.fround(x));
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * Four columns per thread when the width allows: rows bound as vec4f and
 * scalar weights splatted. fma and + are component-wise, so every column sums
 * exactly as with one column per thread, with a quarter of the threads.
 * The unfused baseline keeps one column per thread.
 */
export function columnsPerThread(target: Target, d: number): { ty: 'vec4f' | 'f32'; dv: number; splat: (x: string) => string } {
  return d % 4 === 0 && target.fusion !== false ? { ty: 'vec4f', dv: d / 4, splat: (x) => `vec4<f32>(${x})` } : { ty: 'f32', dv: d, splat: (x) => x };
}

/**
 * A dot product over d contiguous elements, read 16 bytes at a time when
 * the width allows (operands bound as `ty`): `step(a, b)` is the loop body
 * for element (or vec4) a·b into `dotp`, one fma per element in index order,
 * so it sums exactly as the scalar loop does. The unfused baseline keeps
 * scalar loads.
 */
export function dotInOrder(target: Target, d: number): { ty: 'vec4f' | 'f32'; dv: number; step: (a: string, b: string) => string } {
  const { ty, dv } = columnsPerThread(target, d);
  return ty === 'vec4f'
    ? { ty, dv, step: (a, b) => `let a = ${a}; let b = ${b}; dotp = fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, dotp))));` }
    : { ty, dv, step: (a, b) => `dotp = fma(${a}, ${b}, dotp);` };
}

export class KernelWriter {
  private readonly bindings: (KernelBinding & { dtype: DType | 'vec4f' })[] = [];
  private readonly lines: string[] = [];
  private readonly prelude: string[] = [];

  constructor(
    private readonly ctx: OpContext,
    /** The template name (`router`, `expert_up`, …): the kernel's name within its op. */
    readonly template: string,
    private readonly pass: 'forward' | 'backward',
  ) {}

  /**
   * Binds a buffer under a WGSL name and returns that name. `vec4f` views an
   * f32 buffer as array<vec4<f32>> for 16-byte loads (its length must be a
   * multiple of 4).
   */
  bind(name: string, buffer: string, access: 'read' | 'read_write', dtype: DType | 'vec4f' = 'f32'): string {
    const id = wgslIdent(name);
    if (this.bindings.some((b) => b.name === id)) throw new Error(`internal: binding ${id} bound twice in ${this.template}`);
    this.bindings.push({ name: id, buffer, access, dtype });
    return id;
  }

  /** Adds module-scope declarations (helper functions, workgroup arrays, constants). */
  declare(...lines: string[]): this {
    this.prelude.push(...lines.filter((l) => l !== ''));
    return this;
  }

  /** Appends body lines (inside the entry point). */
  body(...lines: string[]): this {
    this.lines.push(...lines);
    return this;
  }

  /**
   * Finishes a kernel whose threads each handle one index in [0, total):
   * the body sees `i: u32` and runs only for i < total.
   */
  finish1d(total: number, workgroupSize = WG): Kernel {
    const [x, y] = this.grid(Math.max(1, Math.ceil(total / workgroupSize)));
    const entry = [
      `@compute @workgroup_size(${workgroupSize})`,
      'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {',
      `  let i = (wid.y * nwg.x + wid.x) * ${workgroupSize}u + lid;`,
      `  if (i >= ${total}u) { return; }`,
      ...this.lines.map((l) => `  ${l}`),
      '}',
    ];
    return this.build(entry, [x, y, 1]);
  }

  /**
   * Finishes a kernel of `count` workgroups that cooperate through
   * workgroup memory: the body sees `wg` (the workgroup's index, uniform
   * across it, so barriers may follow branches on it) and `lid`. No thread
   * returns early on its own; the body must keep barriers in uniform flow.
   */
  finishWorkgroups(count: number, workgroupSize = WG): Kernel {
    const [x, y] = this.grid(count);
    const entry = [
      `@compute @workgroup_size(${workgroupSize})`,
      'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {',
      '  let wg = wid.y * nwg.x + wid.x;',
      `  if (wg >= ${count}u) { return; }`,
      ...this.lines.map((l) => `  ${l}`),
      '}',
    ];
    return this.build(entry, [x, y, 1]);
  }

  /**
   * A 2-D grid of `groups` workgroups within the device's per-dimension
   * limit. A grid too large even so keeps its height: the device-fit check
   * (codegen/device_fit.ts) reports it against the spec before any dispatch.
   */
  private grid(groups: number): [number, number] {
    const maxX = this.ctx.target.maxComputeWorkgroupsPerDimension;
    const x = Math.min(groups, maxX);
    return [x, Math.ceil(groups / x)];
  }

  /** Finishes a kernel run by exactly one workgroup (deterministic reductions, sequential phases); the body sees `lid`. */
  finishSingle(workgroupSize: number): Kernel {
    const entry = [
      `@compute @workgroup_size(${workgroupSize})`,
      'fn main(@builtin(local_invocation_index) lid: u32) {',
      ...this.lines.map((l) => `  ${l}`),
      '}',
    ];
    return this.build(entry, [1, 1, 1]);
  }

  private build(entry: string[], workgroups: [number, number, number]): Kernel {
    const { op } = this.ctx;
    // Auto layouts drop a binding the code never reads, which would invalidate
    // the bind group; so every bound buffer must be used. The check reads the
    // kernel's identifiers (comments stripped), not a pattern over raw text.
    const used = identifiers([...this.prelude, ...entry]);
    const unused = this.bindings.filter((b) => !used.has(b.name));
    if (unused.length) throw new Error(`internal: kernel ${op.name}/${this.template} binds ${unused.map((b) => b.name).join(', ')} but never uses them`);
    const storage = this.bindings.length;
    if (storage > this.ctx.target.maxStorageBuffersPerShaderStage) {
      throw new Error(`internal: kernel ${op.name}/${this.template} binds ${storage} storage buffers; the device allows ${this.ctx.target.maxStorageBuffersPerShaderStage}`);
    }
    const source = [
      ...header(op, this.template, this.pass, this.ctx.specPath, op.origin),
      '',
      ...this.bindings.map((b, i) => `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${b.dtype === 'vec4f' ? 'vec4<f32>' : b.dtype}>;  // ${commentSafe(b.buffer)}`),
      ...(this.prelude.length ? ['', ...this.prelude] : []),
      '',
      ...entry,
      '',
    ].join('\n');
    return {
      id: `${op.name}/${this.template}`,
      template: this.template,
      op: op.name,
      origin: op.origin,
      source,
      bindings: this.bindings.map(({ name, buffer, access }) => ({ name, buffer, access })),
      workgroups,
    };
  }
}

/** The identifiers of WGSL source lines, comments excluded. */
function identifiers(lines: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const line of lines) for (const m of line.replace(/\/\/.*$/, '').matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) out.add(m[0]);
  return out;
}

function header(op: Op, template: string, pass: string, specPath: string, origin: Origin): string[] {
  // Options at their default are left out, as in IR dumps: the header names what the op does differently.
  const attrs = Object.entries(op.attrs).filter(([k, v]) => !isDefaultAttr(op.kind, k, v)).map(([k, v]) => `${k}=${v}`).join(' ');
  const lines = [`// moec kernel ${commentSafe(op.name)}/${template} (${pass} of ${op.kind})`];
  if (attrs) lines.push(`// ${commentSafe(attrs)}`);
  const attrValues = op.attrs as Readonly<Record<string, unknown>>;
  for (const [k, why] of Object.entries((op.derived ?? {}) as Readonly<Record<string, string | undefined>>)) if (why) lines.push(`// ${commentSafe(`${k} ${String(attrValues[k])} = ${why}`)}`);
  if (origin.line) lines.push(`// from ${commentSafe(specPath)}:${origin.line}: ${commentSafe(origin.text)}`);
  return lines;
}
