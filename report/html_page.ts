/**
 * The page around the charts: one self-contained HTML file (inline CSS and
 * SVG, no scripts, no network), with every text from specs and metrics
 * escaped.
 */

/** Escapes text for HTML. */
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Section {
  readonly title: string;
  /** Trusted HTML (SVG from the renderer, or markup built with esc()). */
  readonly html: string;
  readonly note?: string;
}

/** A table from rows of already-formatted cells. */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function page(title: string, subtitle: string, sections: readonly Section[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .sub{color:#666;margin-top:0}
section{margin:2em 0;padding-top:.5em;border-top:1px solid #eee}
table{border-collapse:collapse;font-size:14px} td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
th{background:#fafafa} .note{color:#666;font-size:14px} pre{background:#f6f6f6;padding:1em;overflow:auto}
</style></head><body>
<h1>${esc(title)}</h1><p class="sub">${esc(subtitle)}</p>
${sections.map((s) => `<section><h2>${esc(s.title)}</h2>${s.note ? `<p class="note">${esc(s.note)}</p>` : ''}${s.html}</section>`).join('\n')}
</body></html>
`;
}
