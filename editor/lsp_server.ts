/**
 * A language server for `.moe` files (`moec lsp`, over stdio): any editor
 * with LSP support gets the compiler's diagnostics as you type (code,
 * message and hint, at the exact range), completion of keys and values, and
 * hover documentation — the same editor/language_service.ts the playground
 * uses.
 */
import { CompletionItemKind, createConnection, DiagnosticSeverity, MarkupKind, ProposedFeatures, TextDocuments, TextDocumentSyncKind } from 'vscode-languageserver/node';
import { fileURLToPath } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { completionsAt, diagnose, hoverAt } from './language_service.ts';

/** Serves until the client sends `exit` or closes the stream. */
export function startLanguageServer(): Promise<void> {
  const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
  const documents = new TextDocuments(TextDocument);

  connection.onInitialize(() => ({
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: [' '] },
      hoverProvider: true,
    },
    serverInfo: { name: 'moec' },
  }));

  documents.onDidChangeContent(({ document }) => {
    const path = document.uri.startsWith('file:') ? fileURLToPath(document.uri) : document.uri;
    const diagnostics = diagnose(document.getText(), path).map((d) => ({
      range: { start: document.positionAt(d.from), end: document.positionAt(d.to) },
      severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
      code: d.code,
      source: 'moec',
      message: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message,
    }));
    void connection.sendDiagnostics({ uri: document.uri, diagnostics });
  });

  connection.onCompletion(({ textDocument, position }) => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return [];
    return completionsAt(doc.getText(), doc.offsetAt(position)).map((c) => ({
      label: c.label,
      kind: c.kind === 'key' ? CompletionItemKind.Keyword : CompletionItemKind.EnumMember,
      detail: c.detail,
      documentation: { kind: MarkupKind.Markdown, value: c.doc },
    }));
  });

  connection.onHover(({ textDocument, position }) => {
    const doc = documents.get(textDocument.uri);
    const h = doc && hoverAt(doc.getText(), doc.offsetAt(position));
    if (!doc || !h) return null;
    return { contents: { kind: MarkupKind.Markdown, value: h.text }, range: { start: doc.positionAt(h.from), end: doc.positionAt(h.to) } };
  });

  // A closed file's problems leave the editor's problem list with it.
  documents.onDidClose(({ document }) => void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] }));

  documents.listen(connection);
  const done = new Promise<void>((resolve) => {
    connection.onExit(() => resolve());
    process.stdin.on('end', () => resolve());
  });
  connection.listen();
  return done;
}
