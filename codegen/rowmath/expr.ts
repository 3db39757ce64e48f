/**
 * A tiny expression form for the scalar math both backends need (score
 * functions, activations, their derivatives, the jitter hash): written once
 * here, rendered to WGSL for the kernels and compiled to a Float64 (or u32)
 * JavaScript function for the reference and the host.
 *
 * Rendering keeps the tree's association exactly (a right operand of equal
 * precedence is always parenthesised), so the f32 kernels evaluate in the
 * order the definition is written. A few primitives are rendered per backend
 * on purpose: `erf` is Abramowitz & Stegun 7.1.26 in WGSL (f32 precision, no
 * erf in WGSL) and a full-precision erf in the reference.
 */

/** Types of values: f32 math, or u32 integer math (hashes). */
export type ScalarType = 'f32' | 'u32';

export type Expr =
  | { readonly k: 'var'; readonly name: string }
  | { readonly k: 'num'; readonly value: number }
  | { readonly k: 'u32'; readonly value: number }
  | { readonly k: 'bin'; readonly op: BinOp; readonly a: Expr; readonly b: Expr }
  | { readonly k: 'neg'; readonly a: Expr }
  | { readonly k: 'prim'; readonly fn: Prim; readonly args: readonly Expr[] }
  | { readonly k: 'call'; readonly fn: string; readonly args: readonly Expr[] }
  /** WGSL select(ifFalse, ifTrue, a OP b). */
  | { readonly k: 'select'; readonly ifFalse: Expr; readonly ifTrue: Expr; readonly cmp: CmpOp; readonly a: Expr; readonly b: Expr };

export type BinOp = '+' | '-' | '*' | '/' | '^' | '>>';
export type CmpOp = '>' | '>=' | '<' | '==';
export type Prim = 'exp' | 'log' | 'sqrt' | 'abs' | 'max' | 'erf' | 'u32_to_f32';

/** A named scalar function: parameters, `let` bindings in order, and the returned expression. */
export interface ScalarFn {
  readonly name: string;
  readonly doc: string;
  readonly type: ScalarType;
  readonly params: readonly string[];
  readonly lets: readonly (readonly [string, Expr])[];
  readonly ret: Expr;
}

// ---------------------------------------------------------------- builders

export const x = (name: string): Expr => ({ k: 'var', name });
/** An f32 constant (written with its shortest Float64 digits; WGSL rounds that to the f32 that Math.fround gives). */
export const num = (value: number): Expr => ({ k: 'num', value });
export const u32 = (value: number): Expr => ({ k: 'u32', value: value >>> 0 });
const bin = (op: BinOp) => (a: Expr | number, b: Expr | number): Expr => ({ k: 'bin', op, a: lift(a), b: lift(b) });
export const add = bin('+');
export const sub = bin('-');
export const mul = bin('*');
export const div = bin('/');
export const xor = bin('^');
export const shr = bin('>>');
export const neg = (a: Expr): Expr => ({ k: 'neg', a });
export const prim = (fn: Prim, ...args: Expr[]): Expr => ({ k: 'prim', fn, args });
export const call = (fn: string, ...args: Expr[]): Expr => ({ k: 'call', fn, args });
export const select = (ifFalse: Expr | number, ifTrue: Expr | number, a: Expr, cmp: CmpOp, b: Expr | number): Expr => ({ k: 'select', ifFalse: lift(ifFalse), ifTrue: lift(ifTrue), cmp, a, b: lift(b) });

function lift(e: Expr | number): Expr {
  return typeof e === 'number' ? num(e) : e;
}

// ---------------------------------------------------------------- rendering

const PRECEDENCE: Record<BinOp, number> = { '^': 1, '>>': 2, '+': 3, '-': 3, '*': 4, '/': 4 };

/** The direct sub-expressions of an expression. */
export function children(e: Expr): readonly Expr[] {
  switch (e.k) {
    case 'var':
    case 'num':
    case 'u32':
      return [];
    case 'bin':
      return [e.a, e.b];
    case 'neg':
      return [e.a];
    case 'prim':
    case 'call':
      return e.args;
    case 'select':
      return [e.ifFalse, e.ifTrue, e.a, e.b];
  }
}

/** Functions referenced by an expression. */
export function callsOf(e: Expr): string[] {
  return [...(e.k === 'call' ? [e.fn] : []), ...children(e).flatMap(callsOf)];
}

/** Whether an expression uses a primitive anywhere. */
export function usesPrim(e: Expr, fn: Prim): boolean {
  return (e.k === 'prim' && e.fn === fn) || children(e).some((c) => usesPrim(c, fn));
}

/** The text of an f32 literal in WGSL. */
function wgslNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`internal: non-finite constant ${value}`);
  const s = String(value).replace('e+', 'e');
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** Renders an expression as WGSL; `vars` replaces variables by WGSL text (`p` → `probs[at]`). */
export function toWgsl(e: Expr, vars: Readonly<Record<string, string>> = {}): string {
  return render(e, 'wgsl', vars);
}

/** Renders an expression as JavaScript over Float64 numbers (f32 functions) or u32 integers (u32 functions). */
export function toJs(e: Expr, type: ScalarType, vars: Readonly<Record<string, string>> = {}): string {
  return render(e, type === 'u32' ? 'js-u32' : 'js', vars);
}

/** Renders an f32 expression as PyTorch over tensors (the exported model's row math). */
export function toTorch(e: Expr, vars: Readonly<Record<string, string>> = {}): string {
  return render(e, 'torch', vars);
}

type Target = 'wgsl' | 'js' | 'js-u32' | 'torch';

const isBitwise = (op: BinOp): boolean => op === '^' || op === '>>';

function render(e: Expr, t: Target, vars: Readonly<Record<string, string>>): string {
  const r = (c: Expr) => render(c, t, vars);
  const child = (c: Expr, parent: BinOp, right: boolean): string => {
    const s = r(c);
    if (c.k !== 'bin' || t === 'js-u32') return s;
    // WGSL does not let bitwise operators mix with others unparenthesised.
    if (isBitwise(parent) || isBitwise(c.op)) return `(${s})`;
    const pc = PRECEDENCE[c.op];
    const pp = PRECEDENCE[parent];
    return pc < pp || (right && pc === pp) ? `(${s})` : s;
  };
  switch (e.k) {
    case 'var':
      return vars[e.name] ?? e.name;
    case 'num':
      return t === 'wgsl' ? wgslNumber(e.value) : String(e.value);
    case 'u32':
      return t === 'wgsl' ? `${e.value}u` : String(e.value);
    case 'neg':
      return `-${e.a.k === 'bin' ? `(${r(e.a)})` : r(e.a)}`;
    case 'bin':
      if (t === 'js-u32') {
        // u32 arithmetic in JavaScript: wrap every result to 32 bits as WGSL does.
        const a = r(e.a);
        const b = r(e.b);
        if (e.op === '*') return `(Math.imul(${a}, ${b}) >>> 0)`;
        if (e.op === '>>') return `(${a} >>> ${b})`;
        return `((${a} ${e.op} ${b}) >>> 0)`;
      }
      return `${child(e.a, e.op, false)} ${e.op} ${child(e.b, e.op, true)}`;
    case 'prim': {
      const args = e.args.map(r);
      if (t === 'wgsl') return e.fn === 'erf' ? `erf_f32(${args.join(', ')})` : e.fn === 'u32_to_f32' ? `f32(${args[0]})` : `${e.fn}(${args.join(', ')})`;
      if (t === 'torch') {
        if (e.fn === 'u32_to_f32') throw new Error('internal: u32 math is not rendered to PyTorch');
        // max against a constant clamps (a scalar cannot be torch.maximum's operand on PyTorch 1.13).
        if (e.fn === 'max') return e.args[1]!.k === 'num' ? `torch.clamp_min(${args[0]}, ${args[1]})` : `torch.maximum(${args.join(', ')})`;
        return `torch.${e.fn}(${args.join(', ')})`;
      }
      return e.fn === 'erf' ? `erf(${args[0]})` : e.fn === 'u32_to_f32' ? `(${args[0]})` : `Math.${e.fn}(${args.join(', ')})`;
    }
    case 'call':
      return `${e.fn}(${e.args.map(r).join(', ')})`;
    case 'select': {
      const [f, tr, a, b] = [e.ifFalse, e.ifTrue, e.a, e.b].map(r);
      if (t === 'torch') return `torch.where(${a} ${e.cmp} ${b}, ${tr}, ${f})`;
      return t === 'wgsl' ? `select(${f}, ${tr}, ${a} ${e.cmp} ${b})` : `(${a} ${e.cmp === '==' ? '===' : e.cmp} ${b} ? ${tr} : ${f})`;
    }
  }
}

/** A function's body as one WGSL expression with its parameters bound to `args` (for functions without `let`s). */
export function inlineWgsl(f: ScalarFn, args: Readonly<Record<string, string>>): string {
  if (f.lets.length) throw new Error(`internal: ${f.name} has let bindings and cannot be inlined`);
  return toWgsl(f.ret, args);
}

/** A WGSL function declaration: one line when it has no `let`s, else one statement a line. */
export function wgslFunction(f: ScalarFn): string {
  const params = f.params.map((p) => `${p}: ${f.type}`).join(', ');
  const head = `fn ${f.name}(${params}) -> ${f.type} {`;
  if (!f.lets.length) return `${head} return ${toWgsl(f.ret)}; }`;
  return [head, ...f.lets.map(([n, e]) => `  let ${n} = ${toWgsl(e)};`), `  return ${toWgsl(f.ret)};`, '}'].join('\n');
}

/** A JavaScript function source for one scalar function (for `new Function`). */
export function jsFunction(f: ScalarFn): string {
  return [`function ${f.name}(${f.params.join(', ')}) {`, ...f.lets.map(([n, e]) => `  const ${n} = ${toJs(e, f.type)};`), `  return ${toJs(f.ret, f.type)};`, '}'].join('\n');
}

/** A Python function over PyTorch tensors for one f32 scalar function: `let`s become assignments. */
export function pythonFunction(f: ScalarFn): string {
  if (f.type !== 'f32') throw new Error(`internal: ${f.name} is u32 math, not rendered to PyTorch`);
  return [`def ${f.name}(${f.params.join(', ')}):`, `    """${f.doc}"""`, ...f.lets.map(([n, e]) => `    ${n} = ${toTorch(e)}`), `    return ${toTorch(f.ret)}`].join('\n');
}
