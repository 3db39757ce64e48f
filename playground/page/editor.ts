/**
 * The spec editor: CodeMirror 6 with `.moe` highlighting (keys, values,
 * numbers, strings, comments), completion of keys and values, hover docs,
 * and live diagnostics — all from editor/language_service.ts, so the page
 * says exactly what `moec check` and the language server say.
 */
import { autocompletion, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';
import { StreamLanguage } from '@codemirror/language';
import { linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { EditorView, hoverTooltip } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { ALL_CHOICES, ALL_KEYS } from '../../compiler/schema.ts';
import { completionsAt, diagnose, hoverAt, type EditorDiagnostic } from '../../editor/language_service.ts';

const KEYS = new Set(ALL_KEYS);
const CHOICES = new Set(ALL_CHOICES);

/** Token classes for highlighting: keys as keywords, enum values as atoms. */
const moeLanguage = StreamLanguage.define<null>({
  name: 'moe',
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.match(/#.*/)) return 'comment';
    if (stream.match(/"[^"]*"?/)) return 'string';
    if (stream.match(/-?\d+(\.\d+)?([eE][-+]?\d+)?/)) return 'number';
    const word = stream.match(/[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
    if (word) return KEYS.has(word[0]) ? 'keyword' : CHOICES.has(word[0]) ? 'atom' : 'variableName';
    stream.next();
    return 'punctuation';
  },
});

export interface SpecEditor {
  readonly view: EditorView;
  text(): string;
  setText(text: string): void;
}

/** Mounts the editor in `parent`; `onDiagnostics` gets every check's result (also shown as squiggles). */
export function createEditor(parent: HTMLElement, path: () => string, onDiagnostics: (d: readonly EditorDiagnostic[]) => void): SpecEditor {
  const lint = linter(
    (view): Diagnostic[] => {
      const found = diagnose(view.state.doc.toString(), path());
      onDiagnostics(found);
      return found.map((d) => ({
        from: Math.min(d.from, view.state.doc.length),
        to: Math.min(d.to, view.state.doc.length),
        severity: d.severity,
        source: d.code,
        message: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message,
      }));
    },
    { delay: 300 },
  );
  const complete = (ctx: CompletionContext): CompletionResult | null => {
    const word = ctx.matchBefore(/[A-Za-z_][A-Za-z0-9_]*/);
    if (!word && !ctx.explicit && !/\s$/.test(ctx.state.sliceDoc(Math.max(0, ctx.pos - 1), ctx.pos))) return null;
    const options = completionsAt(ctx.state.doc.toString(), ctx.pos).map((c) => ({ label: c.label, type: c.kind === 'key' ? 'keyword' : 'enum', detail: c.detail, info: c.doc }));
    return { from: word ? word.from : ctx.pos, options, validFor: /^[A-Za-z0-9_]*$/ };
  };
  const hover = hoverTooltip((view, pos) => {
    const h = hoverAt(view.state.doc.toString(), pos);
    if (!h) return null;
    return {
      pos: h.from,
      end: h.to,
      create: () => {
        const dom = document.createElement('div');
        dom.className = 'moe-hover';
        dom.textContent = h.text.replace(/\*\*/g, '').replace(/`/g, '');
        return { dom };
      },
    };
  });
  const view = new EditorView({ parent, extensions: [basicSetup, EditorView.lineWrapping, moeLanguage, lint, lintGutter(), autocompletion({ override: [complete] }), hover] });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
  };
}
