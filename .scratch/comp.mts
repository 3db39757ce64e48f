import { compositions } from '../tests/kernels/route_grammar.ts';
import { checkSpec } from '../compiler/compile.ts';
for (const c of compositions(20261207, 40)) {
  const r = checkSpec(c.text, 'c.moe');
  const errs = r.diagnostics.filter((d) => d.severity === 'error');
  console.log(errs.length ? 'ERR' : 'ok ', c.name, errs.map((e) => e.code + ' ' + e.message).join('; '));
}
