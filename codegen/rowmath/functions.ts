/**
 * The scalar functions of docs/IR.md, defined once in the expression form:
 * the sigmoid, the activations and their derivatives, and the PCG hash of
 * router jitter. `wgslHelpers` emits the WGSL declarations a kernel uses
 * (and what they call, nothing else); `compileScalarFns` turns the same
 * definitions into JavaScript functions for the Float64 reference and the
 * host.
 */
import { add, call, callsOf, usesPrim, div, jsFunction, mul, neg, num, prim, pythonFunction, select, shr, sub, u32, wgslFunction, x, xor, type Expr, type ScalarFn } from './expr.ts';

const v = x('x');
const INV_SQRT2 = num(0.70710678118654752);
const INV_SQRT_2PI = num(0.39894228040143268);

/** Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), odd symmetry for x < 0: WGSL has no erf. The reference uses a full-precision erf instead. */
const ERF_F32: ScalarFn = (() => {
  const a = x('a');
  const t = x('t');
  const poly = (cs: number[]): Expr => {
    // ((((c0·t − c1)·t) + c2)·t − c3)·t + c4, as the kernels have always evaluated it.
    const [c0, c1, c2, c3, c4] = cs.map((c) => num(c)) as [Expr, Expr, Expr, Expr, Expr];
    return add(mul(sub(mul(add(mul(sub(mul(c0, t), c1), t), c2), t), c3), t), c4);
  };
  return {
    name: 'erf_f32',
    doc: 'erf(x), Abramowitz & Stegun 7.1.26',
    type: 'f32',
    params: ['x'],
    lets: [
      ['a', prim('abs', v)],
      ['t', div(num(1), add(num(1), mul(num(0.3275911), a)))],
      ['y', sub(num(1), mul(mul(poly([1.061405429, 1.453152027, 1.421413741, 0.284496736, 0.254829592]), t), prim('exp', mul(neg(a), a))))],
    ],
    ret: select(neg(x('y')), x('y'), v, '>=', num(0)),
  };
})();

const fn = (name: string, doc: string, ret: Expr, lets: ScalarFn['lets'] = []): ScalarFn => ({ name, doc, type: 'f32', params: ['x'], lets, ret });

const SIGMOID = fn('sigmoid_f32', 'σ(x) = 1 / (1 + exp(−x))', div(num(1), add(num(1), prim('exp', neg(v)))));

/** The functions, by name. */
export const SCALAR_FNS: Readonly<Record<string, ScalarFn>> = Object.fromEntries(
  ([
    ERF_F32,
    SIGMOID,
    fn('act_relu', 'max(x, 0)', prim('max', v, num(0))),
    fn('dact_relu', "relu'(x): 1 if x > 0 else 0", select(num(0), num(1), v, '>', num(0))),
    fn('act_relu2', 'max(x, 0)² (squared ReLU)', mul(x('r'), x('r')), [['r', prim('max', v, num(0))]]),
    fn('dact_relu2', "relu2'(x) = 2·max(x, 0)", mul(num(2), prim('max', v, num(0)))),
    fn('act_gelu', 'x/2 · (1 + erf(x/√2))', mul(mul(num(0.5), v), add(num(1), prim('erf', mul(v, INV_SQRT2))))),
    fn('dact_gelu', "gelu'(x) = Φ(x) + x·φ(x)", add(x('cdf'), mul(mul(v, prim('exp', mul(mul(num(-0.5), v), v))), INV_SQRT_2PI)), [['cdf', mul(num(0.5), add(num(1), prim('erf', mul(v, INV_SQRT2))))]]),
    fn('act_silu', 'x·σ(x)', mul(v, call('sigmoid_f32', v))),
    fn('dact_silu', "silu'(x) = σ(x)·(1 + x·(1 − σ(x)))", mul(x('s'), add(num(1), mul(v, sub(num(1), x('s'))))), [['s', call('sigmoid_f32', v)]]),
    {
      name: 'pcg',
      doc: 'PCG hash of a u32 (router jitter noise)',
      type: 'u32',
      params: ['v'],
      lets: [
        ['s', add(mul(x('v'), u32(747796405)), u32(2891336453))],
        ['w', mul(xor(shr(x('s'), add(shr(x('s'), u32(28)), u32(4))), x('s')), u32(277803737))],
      ],
      ret: xor(shr(x('w'), u32(22)), x('w')),
    },
  ] satisfies ScalarFn[]).map((f) => [f.name, f]),
);

/** The functions `fns` need (by name from the table, or given), dependencies first (erf primitives need erf_f32 in WGSL). */
function closure(fns: readonly (string | ScalarFn)[], wgsl: boolean): ScalarFn[] {
  const out: ScalarFn[] = [];
  const visit = (ref: string | ScalarFn) => {
    const name = typeof ref === 'string' ? ref : ref.name;
    if (out.some((f) => f.name === name)) return;
    const f = typeof ref === 'string' ? SCALAR_FNS[name] : ref;
    if (!f) throw new Error(`internal: no scalar function ${name}`);
    const exprs = [...f.lets.map(([, e]) => e), f.ret];
    for (const dep of exprs.flatMap(callsOf)) visit(dep);
    if (wgsl && exprs.some((e) => usesPrim(e, 'erf'))) visit('erf_f32');
    out.push(f);
  };
  fns.forEach(visit);
  return out;
}

/** WGSL declarations of the functions (named in the table, or given) and everything they call, in dependency order. */
export function wgslHelpers(...fns: (string | ScalarFn)[]): string {
  return closure(fns, true).map(wgslFunction).join('\n');
}

/** Python (PyTorch) definitions of the functions and everything they call, in dependency order (erf is torch.erf). */
export function pythonHelpers(...fns: (string | ScalarFn)[]): string {
  return closure(fns, false).map(pythonFunction).join('\n\n\n');
}

/**
 * JavaScript functions compiled from the definitions. `erf` is the
 * primitive the f32 functions call (the reference passes its full-precision
 * erf); functions that use none need no primitives.
 */
export function compileScalarFns<N extends string>(names: readonly N[], erf: (x: number) => number = noErf): Record<N, (...args: number[]) => number> {
  const fns = closure(names, false);
  const body = `${fns.map(jsFunction).join('\n')}\nreturn { ${names.join(', ')} };`;
  return new Function('erf', body)(erf) as Record<N, (...args: number[]) => number>;
}

/** One function not in the table (a score function's gradient), compiled with what it calls. */
export function compileScalarFn(f: ScalarFn, erf: (x: number) => number = noErf): (...args: number[]) => number {
  const fns = closure([f], false);
  return new Function('erf', `${fns.map(jsFunction).join('\n')}\nreturn ${f.name};`)(erf) as (...args: number[]) => number;
}

function noErf(): number {
  throw new Error('internal: a scalar function calls erf, but no erf was given to compileScalarFns');
}
