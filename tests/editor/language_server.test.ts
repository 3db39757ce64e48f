/**
 * Editor support outside the page: `moec lsp` speaks the Language Server
 * Protocol over stdio and gives the compiler's diagnostics (code, range,
 * hint), completion of keys and values, and hover docs; the language
 * service it shares with the playground is tested directly too; and the
 * TextMate grammar is generated from the schema (stale = failure).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CHOICES, ALL_KEYS } from '../../compiler/schema.ts';
import { completionsAt, diagnose, hoverAt, sectionAt } from '../../editor/language_service.ts';
import { tmGrammar } from '../../editor/textmate_grammar.ts';
import { ROOT } from '../training/helpers.ts';

const BAD = `model m {
  vocab 256  context 32  width 32  depth 1  heads 2
  ffn moe {
    experts 4 { hidden 0 }
    route token_choice { top_k 1 }
  }
}
`;

/** A JSON-RPC client over a child's stdio with LSP's Content-Length framing. */
class LspClient {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly waiting = new Map<number, (r: unknown) => void>();
  readonly notifications: { method: string; params: unknown }[] = [];
  private notify: (() => void) | undefined;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())?.[1]);
        if (this.buffer.length < end + 4 + length) return;
        const msg = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString()) as { id?: number; method?: string; result?: unknown; params?: unknown };
        this.buffer = this.buffer.subarray(end + 4 + length);
        if (msg.id !== undefined && !msg.method) this.waiting.get(msg.id)?.(msg.result);
        else if (msg.method) {
          this.notifications.push({ method: msg.method, params: msg.params });
          this.notify?.();
        }
      }
    });
  }

  private send(msg: object): void {
    const body = JSON.stringify({ jsonrpc: '2.0', ...msg });
    this.child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  request<T>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (r: unknown) => void);
      this.send({ id, method, params });
    });
  }

  notifyServer(method: string, params: unknown): void {
    this.send({ method, params });
  }

  /** Resolves with the first notification (received or future) of `method` that `pick` accepts. */
  async waitFor<T>(method: string, pick: (p: T) => boolean = () => true): Promise<T> {
    for (;;) {
      const found = this.notifications.find((n) => n.method === method && pick(n.params as T));
      if (found) return found.params as T;
      await new Promise<void>((r) => (this.notify = r));
    }
  }
}

interface LspDiagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  severity: number;
  code: string;
  source: string;
  message: string;
}

describe('moec lsp', () => {
  let client: LspClient;
  beforeAll(async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/moec.js'), 'lsp', '--stdio'], { cwd: ROOT });
    client = new LspClient(child);
    const init = await client.request<{ capabilities: { hoverProvider: boolean; completionProvider: object } }>('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
    expect(init.capabilities.hoverProvider).toBe(true);
    client.notifyServer('initialized', {});
  }, 60_000);
  afterAll(async () => {
    await client.request('shutdown', null);
    const exited = new Promise<number | null>((r) => client.child.once('exit', r));
    client.notifyServer('exit', null);
    expect(await exited).toBe(0);
  });

  it('publishes the checker\'s diagnostics with code, exact range and hint as the file changes', async () => {
    const uri = 'file:///tmp/lsp_test.moe';
    client.notifyServer('textDocument/didOpen', { textDocument: { uri, languageId: 'moe', version: 1, text: BAD } });
    const first = await client.waitFor<{ uri: string; diagnostics: LspDiagnostic[] }>('textDocument/publishDiagnostics', (p) => p.uri === uri);
    const expected = diagnose(BAD, '/tmp/lsp_test.moe');
    expect(expected.length).toBeGreaterThan(0);
    expect(first.diagnostics.map((d) => d.code)).toEqual(expected.map((d) => d.code));
    const d = first.diagnostics[0]!;
    // `hidden 0`: the range is the value on line 4 (0-based 3), as `moec check` says (E104).
    expect(d.code).toBe('E104');
    expect(d.range.start.line).toBe(3);
    expect(BAD.split('\n')[3]!.slice(d.range.start.character, d.range.end.character)).toBe('0');
    expect(d.severity).toBe(1);
    expect(d.source).toBe('moec');
    expect(d.message).toContain(expected[0]!.message);
    expect(expected[0]!.hint).toBeTruthy();
    expect(d.message).toContain(`hint: ${expected[0]!.hint}`);
    // Fixing the value clears the diagnostics.
    client.notifyServer('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ text: BAD.replace('hidden 0', 'hidden 64') }] });
    const fixed = await client.waitFor<{ uri: string; diagnostics: LspDiagnostic[] }>('textDocument/publishDiagnostics', (p) => p.uri === uri && p.diagnostics.length === 0);
    expect(fixed.diagnostics).toEqual([]);
  });

  it('completes values after a key, keys inside a block, and shows hover docs', async () => {
    const uri = 'file:///tmp/lsp_complete.moe';
    const text = 'model m {\n  vocab 256\n  ffn moe {\n    route \n  }\n}\n';
    client.notifyServer('textDocument/didOpen', { textDocument: { uri, languageId: 'moe', version: 1, text } });
    const values = await client.request<{ label: string }[]>('textDocument/completion', { textDocument: { uri }, position: { line: 3, character: 10 } });
    expect(values.map((c) => c.label)).toEqual(expect.arrayContaining(['token_choice', 'expert_choice', 'mixture_of_tokens']));
    const keys = await client.request<{ label: string; detail: string }[]>('textDocument/completion', { textDocument: { uri }, position: { line: 1, character: 2 } });
    expect(keys.map((c) => c.label)).toEqual(expect.arrayContaining(['vocab', 'context', 'width', 'depth', 'heads', 'ffn']));
    expect(keys.map((c) => c.label)).not.toContain('top_k');
    const hover = await client.request<{ contents: { kind: string; value: string } }>('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 4 } });
    expect(hover.contents.kind).toBe('markdown');
    expect(hover.contents.value).toMatch(/^\*\*vocab\*\*/);
    expect(hover.contents.value).toContain('Example: `vocab');
  });
});

describe('the language service', () => {
  it('knows which block the cursor is in', () => {
    const text = 'model m {\n  ffn moe {\n    experts 4 { hidden 8 }\n    route token_choice { top_k 1 }\n  }\n}\ntrain { optimizer adamw { lr 1 } }';
    expect(sectionAt(text, text.indexOf('ffn'))).toBe('model');
    expect(sectionAt(text, text.indexOf('hidden'))).toBe('experts');
    expect(sectionAt(text, text.indexOf('top_k'))).toBe('route');
    expect(sectionAt(text, text.indexOf('lr'))).toBe('optimizer');
    expect(sectionAt(text, text.length)).toBe('file');
  });

  it('completes `activation` values and hovers over a value word', () => {
    const text = 'model m {\n  ffn dense { activation ';
    expect(completionsAt(text, text.length).map((c) => c.label)).toEqual(['relu', 'gelu', 'silu', 'relu2', 'swiglu']);
    const h = hoverAt('route token_choice', 8);
    expect(h?.text).toMatch(/^\*\*token_choice\*\*: a value of `route`/);
    expect(hoverAt('   ', 1)).toBeUndefined();
  });
});

describe('the TextMate grammar', () => {
  it('is editor/moe.tmLanguage.json, generated from the schema (run: npx tsx scripts/tm_grammar.ts --write)', () => {
    expect(readFileSync(join(ROOT, 'editor', 'moe.tmLanguage.json'), 'utf8')).toBe(tmGrammar());
  });

  it('highlights every key and every value word', () => {
    const g = JSON.parse(tmGrammar()) as { patterns: { name: string; match?: string }[] };
    const rule = (name: string) => new RegExp(`^(?:${g.patterns.find((p) => p.name === name)!.match!})$`);
    for (const k of ALL_KEYS) expect(rule('keyword.other.key.moe').test(k), k).toBe(true);
    for (const c of ALL_CHOICES) expect(rule('constant.language.value.moe').test(c), c).toBe(true);
    expect(rule('keyword.other.key.moe').test('topk')).toBe(false);
  });
});
