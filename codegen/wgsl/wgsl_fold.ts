/**
 * Folded u32 index arithmetic for generated WGSL: generators build index
 * expressions through these so that `row0 + 0u`, `(0u) / 4u`, `t / 1u` or
 * `s % 1u` never reach a kernel a person has to read. Operands are WGSL
 * expression strings; a result that is not a plain name or literal is
 * parenthesised by the caller where precedence needs it.
 */

const literal = (e: string): number | undefined => {
  const m = /^(\d+)u$/.exec(e);
  return m ? Number(m[1]) : undefined;
};

/** `a + n`, or `a` when n is 0. */
export function addU(a: string, n: number): string {
  return n === 0 ? a : `${a} + ${n}u`;
}

/** `a + b` for expressions, dropping a literal `0u`. */
export function plusU(a: string, b: string): string {
  return b === '0u' ? a : a === '0u' ? b : `${a} + ${b}`;
}

/** `e` in parentheses unless it is a plain name, literal, index or call (one whose brackets close only at its end). */
export function group(e: string): string {
  if (/^[A-Za-z_0-9.]+$/.test(e)) return e;
  const m = /^[A-Za-z_][A-Za-z_0-9]*[[(]/.exec(e);
  return m && closesAtEnd(e, m[0].length - 1) ? e : `(${e})`;
}

/** Whether the bracket opened at `open` closes at the last character of `e`. */
function closesAtEnd(e: string, open: number): boolean {
  let depth = 0;
  for (let i = open; i < e.length; i++) {
    if (e[i] === '(' || e[i] === '[') depth++;
    else if (e[i] === ')' || e[i] === ']') depth--;
    if (depth === 0) return i === e.length - 1;
  }
  return false;
}

/** `e / n`: a literal when e is one that n divides, `e` when n is 1. */
export function divU(e: string, n: number): string {
  const v = literal(e);
  if (v !== undefined && v % n === 0) return `${v / n}u`;
  if (n === 1) return e;
  return `${group(e)} / ${n}u`;
}

/**
 * The head of a loop of `v` over [0, n): `for (...) {`, or, for one
 * iteration, a block that binds `v` to 0 (the caller writes the body and
 * the closing brace either way; bodies must not `break` or `continue`).
 */
export function loopU(v: string, n: number): string {
  return n === 1 ? `{ let ${v} = 0u;` : `for (var ${v} = 0u; ${v} < ${n}u; ${v}++) {`;
}

/** `a * n`: `a` when n is 1, `0u` when n is 0. */
export function mulU(a: string, n: number): string {
  return n === 1 ? a : n === 0 ? '0u' : `${a} * ${n}u`;
}

/** `a % n`: `0u` when n is 1. */
export function modU(a: string, n: number): string {
  return n === 1 ? '0u' : `${a} % ${n}u`;
}
