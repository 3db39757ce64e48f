/**
 * The playground in a real browser: Debian's chromium, headless, with its
 * WebGPU (SwiftShader), driven by puppeteer-core over the DevTools protocol.
 * Loads the page served by playground/server.ts, types an error into the
 * editor and sees its diagnostic, fixes it, trains 20 steps and sees the
 * loss fall, checks the browser's first-step loss against `moec train` on
 * Node (within 1e-5 relative), downloads the checkpoint and has the CLI
 * sample from it and resume it; then a browser without WebGPU and a spec
 * the page's budget cannot hold each get a clear message. A screenshot of
 * the trained page is written to test-output/playground.png.
 * Needs chromium (bash scripts/setup_chromium.sh installs it as root); the
 * tests fail, not skip, without it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlayground } from '../../playground/bundle.ts';
import { servePlayground } from '../../playground/server.ts';
import { CHECKPOINT_FILE } from '../../runtime/checkpoint.ts';
import { moec, readMetricsStrict, ROOT, show, TempDirs } from '../training/helpers.ts';

// The callbacks given to page.evaluate/$eval run in the page, where these exist; Node's types lack the DOM.
declare const window: unknown;
declare const document: { getElementById(id: string): { textContent: string | null; hidden: boolean } | null; querySelectorAll(selector: string): { length: number } };
declare const Navigator: { prototype: object };
type HTMLElement = { hidden: boolean; textContent: string | null };
type HTMLButtonElement = { disabled: boolean };
type HTMLInputElement = { value: string };

const CHROMIUM = process.env.MOEC_CHROMIUM ?? '/usr/bin/chromium';
const SPEC = `# a small Switch model for the browser test
model tiny_switch {
  vocab 256  context 32  width 32  depth 2  heads 2
  ffn moe {
    experts 4 { hidden 64  activation gelu }
    route token_choice { top_k 1  capacity_factor 1.25  balance_loss 0.01 }
  }
}
train { data synthetic  batch 4  steps 20  optimizer adamw { lr 1e-2 }  eval_every 10  seed 3 }
`;

const tmp = new TempDirs();
let server: Server;
let url: string;
let browser: Browser;
let page: Page;
const downloads = tmp.make('moec-play-downloads-');

interface PageState {
  moecPlayground: {
    editor: { text(): string; setText(t: string): void; view: { dispatch(tr: unknown): void; focus(): void; state: { doc: { toString(): string } } } };
    runs: { loss: [number, number][]; val: [number, number][] }[];
    diagnostics(): { code: string; line: number; column: number; message: string }[];
    busy(): boolean;
  };
}

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: run bash scripts/setup_chromium.sh (as root it installs Debian's chromium), or set MOEC_CHROMIUM`);
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--enable-unsafe-webgpu', '--window-size=1280,900'] });
}

async function openPage(b: Browser, beforeLoad?: (p: Page) => Promise<unknown>): Promise<Page> {
  const p = await b.newPage();
  await p.setViewport({ width: 1280, height: 900 });
  await beforeLoad?.(p);
  await p.goto(url);
  await p.waitForFunction(() => (window as unknown as PageState).moecPlayground?.editor.text().length > 0, { timeout: 60_000 });
  return p;
}

const diagnosticsText = (p: Page) => p.$$eval('#diagnostics li', (els) => els.map((e) => e.textContent ?? ''));

beforeAll(async () => {
  const dir = tmp.make('moec-play-page-');
  await buildPlayground(dir);
  server = await servePlayground(dir, ROOT, 0);
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launch();
  page = await openPage(browser);
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  tmp.cleanup();
});

describe('the playground in chromium', () => {
  it('shows a typed error as a diagnostic with its code and position, and clears it when fixed', async () => {
    await page.evaluate((text) => (window as unknown as PageState).moecPlayground.editor.setText(text), SPEC);
    await page.waitForFunction(() => document.getElementById('check-status')?.textContent === 'checks', { timeout: 30_000 });
    // Type a misspelt key at the end of the model's first line, as a user would.
    const line = SPEC.split('\n').findIndex((l) => l.includes('vocab 256'));
    const at = SPEC.split('\n').slice(0, line + 1).join('\n').length;
    await page.evaluate((pos) => {
      const view = (window as unknown as PageState).moecPlayground.editor.view;
      view.dispatch({ selection: { anchor: pos } });
      view.focus();
    }, at);
    await page.keyboard.type('  widht 3');
    await page.waitForFunction(() => document.querySelectorAll('#diagnostics li.error').length > 0, { timeout: 30_000 });
    const shown = await diagnosticsText(page);
    expect(shown.join('\n')).toMatch(new RegExp(`^${line + 1}:\\d+ error E\\d+: .*widht`, 'm'));
    expect(await page.$eval('#train', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    // The squiggle is drawn in the editor too.
    expect(await page.$$eval('.cm-lintRange-error', (els) => els.length)).toBeGreaterThan(0);
    for (let i = 0; i < '  widht 3'.length; i++) await page.keyboard.press('Backspace');
    await page.waitForFunction(() => document.getElementById('check-status')?.textContent === 'checks', { timeout: 30_000 });
    expect(await diagnosticsText(page)).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as PageState).moecPlayground.editor.text())).toBe(SPEC);
  }, 120_000);

  it('completes values and shows hover docs in the editor', async () => {
    // Completion: with `gelu` removed after `activation `, Ctrl-Space offers the activations.
    const at = SPEC.indexOf('activation gelu') + 'activation '.length;
    await page.evaluate((pos) => {
      const view = (window as unknown as PageState).moecPlayground.editor.view;
      view.dispatch({ selection: { anchor: pos, head: pos + 'gelu'.length } });
      view.focus();
    }, at);
    await page.keyboard.press('Backspace');
    await page.keyboard.down('Control');
    await page.keyboard.press('Space');
    await page.keyboard.up('Control');
    await page.waitForSelector('.cm-tooltip-autocomplete', { timeout: 30_000 });
    const offered = await page.$$eval('.cm-tooltip-autocomplete li', (els) => els.map((e) => e.textContent ?? ''));
    for (const a of ['relu', 'gelu', 'silu', 'swiglu']) expect(offered.some((o) => o.startsWith(a)), offered.join(', ')).toBe(true);
    await page.keyboard.press('Escape');
    await page.keyboard.type('gelu');
    await page.keyboard.press('Escape');
    expect(await page.evaluate(() => (window as unknown as PageState).moecPlayground.editor.text())).toBe(SPEC);
    // Hover: the documentation of `capacity_factor`.
    const xy = await page.evaluate((p) => {
      const view = (window as unknown as PageState).moecPlayground.editor.view as unknown as { coordsAtPos(p: number): { left: number; top: number; bottom: number } };
      const c = view.coordsAtPos(p);
      return { x: c.left + 1, y: (c.top + c.bottom) / 2 };
    }, SPEC.indexOf('capacity_factor') + 3);
    await page.mouse.move(xy.x, xy.y);
    await page.waitForSelector('.moe-hover', { timeout: 30_000 });
    expect(await page.$eval('.moe-hover', (e) => e.textContent ?? '')).toMatch(/^capacity_factor — [\s\S]*Example: /);
    await page.mouse.move(0, 0);
  }, 120_000);

  it('trains 20 steps on the browser\'s WebGPU in a worker; the loss falls and the first step matches Node within 1e-5', async () => {
    await page.$eval('#steps', (e) => ((e as HTMLInputElement).value = '20'));
    await page.click('#train');
    await page.waitForFunction(() => !(window as unknown as PageState).moecPlayground.busy(), { timeout: 600_000, polling: 500 });
    expect(await page.$eval('#banner', (e) => (e as HTMLElement).hidden), await page.$eval('#banner', (e) => e.textContent ?? '')).toBe(true);
    const run = await page.evaluate(() => (window as unknown as PageState).moecPlayground.runs[0]!);
    expect(run.loss.map((p) => p[0])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(run.loss[19]![1]).toBeLessThan(run.loss[0]![1] - 0.3);
    expect(run.val.map((v) => v[0])).toEqual([0, 10, 20]);
    expect(await page.$eval('#status', (e) => e.textContent ?? '')).toMatch(/^tiny_switch #1: step 20\/20 .* tokens\/s[\s\S]*done: 20 steps/);
    expect(await page.$eval('#load-chart', (e) => e.innerHTML)).toMatch(/block 1: share of kept choices/);

    // The same spec, seed and data through `moec train` on Node (Dawn, lavapipe).
    const dir = tmp.make('moec-play-node-');
    writeFileSync(join(dir, 'tiny_switch.moe'), SPEC);
    const r = moec(['train', join(dir, 'tiny_switch.moe'), '--steps', '1', '--out', join(dir, 'run')]);
    expect(r.status, show(r)).toBe(0);
    const node = readMetricsStrict(join(dir, 'run', 'metrics.jsonl'))[0]!.loss;
    expect(Math.abs(run.loss[0]![1] - node) / node, `browser ${run.loss[0]![1]} vs Node ${node}`).toBeLessThan(1e-5);

    mkdirSync(join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-output', 'playground.png') });
    writeFileSync(join(ROOT, 'test-output', 'playground.json'), `${JSON.stringify({ firstStepLoss: { browser: run.loss[0]![1], node, relative: Math.abs(run.loss[0]![1] - node) / node }, adapter: await page.$eval('#adapter', (e) => e.textContent) }, null, 1)}\n`);
  }, 900_000);

  it('downloads a checkpoint that moec sample reads and moec train --resume continues', async () => {
    await page.click('#download-checkpoint');
    const deadline = Date.now() + 60_000;
    let file: string | undefined;
    while (!file && Date.now() < deadline) {
      file = readdirSync(downloads).find((f) => f.endsWith('.safetensors'));
      if (!file) await new Promise((r) => setTimeout(r, 250));
    }
    expect(file, 'no checkpoint was downloaded').toBe('tiny_switch-step20.safetensors');
    const path = join(downloads, file!);
    const s = moec(['sample', path, '--prompt', '12+', '--tokens', '8', '--temperature', '0']);
    expect(s.status, show(s)).toBe(0);
    expect(s.stdout.startsWith('12+')).toBe(true);
    // Resume: the checkpoint in a run folder beside the same spec text.
    const dir = tmp.make('moec-play-resume-');
    writeFileSync(join(dir, 'tiny_switch.moe'), SPEC);
    mkdirSync(join(dir, 'run'));
    copyFileSync(path, join(dir, 'run', CHECKPOINT_FILE));
    const r = moec(['train', join(dir, 'tiny_switch.moe'), '--resume', '--steps', '22', '--out', join(dir, 'run')]);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/resuming from .* at step 20/);
    expect(readMetricsStrict(join(dir, 'run', 'metrics.jsonl')).map((m) => m.step)).toEqual([21, 22]);
    expect(readFileSync(join(dir, 'run', CHECKPOINT_FILE)).length).toBeGreaterThan(0);
    // The report: the run's table, its charts and its spec, in one self-contained file.
    await page.click('#download-report');
    const reportPath = join(downloads, 'moec-playground-report.html');
    const until = Date.now() + 30_000;
    while (!existsSync(reportPath) && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
    const html = readFileSync(reportPath, 'utf8');
    expect(html).toContain('<td>tiny_switch #1</td><td>20</td>');
    expect(html).toContain('cross-entropy (nats/byte)');
    expect(html).toContain('model tiny_switch {');
    expect(html).not.toMatch(/<script/i);
  }, 300_000);

  it('trains a second spec beside the first on one chart, and stops and resumes it', async () => {
    const dense = SPEC.replace('model tiny_switch', 'model tiny_dense').replace(/ffn moe \{[\s\S]*?\n  \}\n/, 'ffn dense { hidden 64 }\n');
    await page.evaluate((text) => (window as unknown as PageState).moecPlayground.editor.setText(text), dense);
    await page.waitForFunction(() => document.getElementById('check-status')?.textContent === 'checks', { timeout: 30_000 });
    await page.$eval('#steps', (e) => ((e as HTMLInputElement).value = '400'));
    await page.click('#train');
    await page.waitForFunction(() => ((window as unknown as PageState).moecPlayground.runs[1]?.loss.length ?? 0) >= 3, { timeout: 300_000, polling: 100 });
    await page.click('#stop');
    await page.waitForFunction(() => !(window as unknown as PageState).moecPlayground.busy(), { timeout: 120_000, polling: 200 });
    const stoppedAt = await page.evaluate(() => (window as unknown as PageState).moecPlayground.runs[1]!.loss.length);
    expect(stoppedAt).toBeLessThan(400);
    expect(await page.$eval('#status', (e) => e.textContent ?? '')).toContain(`stopped at step ${stoppedAt}; Resume continues it`);
    // Resume trains the Steps field's count more.
    await page.$eval('#steps', (e) => ((e as HTMLInputElement).value = '2'));
    await page.click('#resume');
    await page.waitForFunction(() => !(window as unknown as PageState).moecPlayground.busy(), { timeout: 300_000, polling: 200 });
    const steps = await page.evaluate(() => (window as unknown as PageState).moecPlayground.runs[1]!.loss.map((p) => p[0]));
    expect(steps).toEqual(Array.from({ length: stoppedAt + 2 }, (_, i) => i + 1));
    const chart = await page.$eval('#loss-chart', (e) => e.textContent ?? '');
    expect(chart).toContain('tiny_switch #1: train (line), validation (circles)');
    expect(chart).toContain('tiny_dense #2: train (line), validation (circles)');
  }, 900_000);

  it('says plainly when the adapter cannot hold a spec', async () => {
    const big = 'model big {\n  vocab 256  context 256  width 512  depth 6  heads 8\n  ffn moe { experts 8 { hidden 2048 }  route token_choice { top_k 1 } }\n}\ntrain { batch 16 steps 10 }\n';
    await page.evaluate((text) => (window as unknown as PageState).moecPlayground.editor.setText(text), big);
    await page.waitForFunction(() => document.getElementById('check-status')?.textContent === 'checks', { timeout: 30_000 });
    await page.click('#train');
    await page.waitForFunction(() => !(document.getElementById('banner') as HTMLElement).hidden, { timeout: 120_000 });
    const banner = await page.$eval('#banner', (e) => e.textContent ?? '');
    expect(banner).toMatch(/this browser's adapter cannot hold the model: .*2 GiB budget/);
    expect(banner).toMatch(/hint: /);
    await page.waitForFunction(() => !(window as unknown as PageState).moecPlayground.busy(), { timeout: 30_000 });
    // The failed spec left no empty run behind, and the last run can still be resumed.
    expect(await page.evaluate(() => (window as unknown as PageState).moecPlayground.runs.length)).toBe(2);
    expect(await page.$eval('#resume', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
  }, 180_000);

  it('says plainly when the browser has no WebGPU, and the editor still works', async () => {
    const p = await openPage(browser, (q) => q.evaluateOnNewDocument(() => delete (Navigator.prototype as { gpu?: unknown }).gpu));
    try {
      await p.waitForFunction(() => document.getElementById('check-status')?.textContent === 'checks', { timeout: 30_000 });
      const banner = await p.$eval('#banner', (e) => e.textContent ?? '');
      expect(banner).toMatch(/This browser has no WebGPU/);
      expect(banner).toMatch(/hint: use Chrome or Edge 113\+/);
      expect(await diagnosticsText(p)).toEqual([]);
    } finally {
      await p.close();
    }
  }, 120_000);
});
