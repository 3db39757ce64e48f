// Module resolution hook: `moec/runtime` (what generated harnesses import)
// resolves to this checkout's runtime wherever the harness was written.
const runtime = new URL('../runtime/index.ts', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'moec/runtime') return { url: runtime, shortCircuit: true };
  return next(specifier, context);
}
