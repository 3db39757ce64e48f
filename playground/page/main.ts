/**
 * The playground page: the spec editor, the examples, and the training
 * controls. Training runs in a Worker (worker.js); the page only draws what
 * it reports, so it stays responsive. Runs trained one after another share
 * the loss chart. `window.moecPlayground` exposes the state for tests.
 */
import type { EditorDiagnostic } from '../../editor/language_service.ts';
import type { FromWorker, LayerLoad, ToWorker } from '../protocol.ts';
import { loadHeatmap, lossChart, type RunSeries } from './charts.ts';
import { createEditor } from './editor.ts';

interface Example {
  readonly name: string;
  readonly path: string;
  readonly text: string;
}

interface Run extends RunSeries {
  readonly loss: [number, number][];
  readonly val: [number, number][];
  readonly history: { step: number; layers: readonly LayerLoad[] }[];
  readonly specText: string;
  total: number;
  done: boolean;
  tokensPerSecond: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b'];
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const banner = $('banner');
const status = $('status');
const runs: Run[] = [];
let diagnostics: readonly EditorDiagnostic[] = [];
let examples: Example[] = [];
let path = 'playground.moe';
let mobyDick: Uint8Array | undefined;

function showBanner(text: string, kind: 'error' | 'note' = 'error'): void {
  banner.hidden = false;
  banner.className = kind;
  banner.textContent = text;
}

function renderDiagnostics(found: readonly EditorDiagnostic[]): void {
  diagnostics = found;
  const list = $('diagnostics');
  list.replaceChildren(
    ...found.map((d) => {
      const li = document.createElement('li');
      li.className = d.severity;
      li.textContent = `${d.line}:${d.column} ${d.severity} ${d.code}: ${d.message}${d.hint ? ` (hint: ${d.hint})` : ''}`;
      return li;
    }),
  );
  const errors = found.filter((d) => d.severity === 'error').length;
  const check = $('check-status');
  check.className = errors ? 'bad' : 'ok';
  check.textContent = errors ? `${errors} error${errors > 1 ? 's' : ''}` : 'checks';
  $<HTMLButtonElement>('train').disabled = errors > 0 || busy;
}

const editor = createEditor($('editor'), () => path, renderDiagnostics);

let busy = false;
function setBusy(b: boolean): void {
  busy = b;
  $<HTMLButtonElement>('train').disabled = b || diagnostics.some((d) => d.severity === 'error');
  $<HTMLButtonElement>('stop').disabled = !b;
  $<HTMLButtonElement>('resume').disabled = b || !runs.length;
  $<HTMLButtonElement>('download-checkpoint').disabled = b || !runs.length;
  $<HTMLButtonElement>('download-report').disabled = !runs.length;
}

function redraw(): void {
  $('loss-chart').innerHTML = lossChart(runs);
  $('load-chart').innerHTML = loadHeatmap(runs.at(-1)?.history ?? []);
}

function download(name: string, data: BlobPart, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

const worker = new Worker('worker.js', { type: 'module' });
const send = (m: ToWorker) => worker.postMessage(m);
worker.onerror = (e) => {
  showBanner(`the training worker failed to start or crashed: ${e.message || 'no details'}\nhint: reload the page; if it happens again, run moec play again and report it`);
  status.textContent = 'the training worker stopped';
  setBusy(false);
};

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  const run = runs.at(-1);
  switch (m.type) {
    case 'compiled':
      $('adapter').textContent = `WebGPU: ${m.adapter}`;
      status.textContent = `compiled: ${m.kernels} kernels, ${m.params} parameters; data: ${m.data}; training ${m.steps} steps…`;
      break;
    case 'validation':
      run?.val.push([m.step, m.valLoss]);
      redraw();
      break;
    case 'step':
      if (!run) break;
      run.loss.push([m.step, m.loss]);
      if (m.valLoss !== undefined) run.val.push([m.step, m.valLoss]);
      run.history.push({ step: m.step, layers: m.layers });
      run.tokensPerSecond = m.tokensPerSecond;
      status.textContent = `${run.label}: step ${m.step}/${run.total}  loss ${m.loss.toFixed(4)}${run.val.length ? `  val ${run.val.at(-1)![1].toFixed(4)}` : ''}  ${Math.round(m.tokensPerSecond)} tokens/s`;
      redraw();
      break;
    case 'done':
      if (run) run.done = !m.stopped;
      status.textContent += m.stopped ? `\nstopped at step ${m.step}; Resume continues it` : `\ndone: ${m.step} steps`;
      setBusy(false);
      break;
    case 'checkpoint':
      download(m.name, m.bytes, 'application/octet-stream');
      status.textContent += `\ncheckpoint of step ${m.step} downloaded (${m.name}: moec sample or moec train --resume read it)`;
      break;
    case 'error':
      // A run that never started (the spec did not compile or fit) leaves no empty entry behind.
      if (run && !run.loss.length && !run.val.length) runs.pop();
      showBanner(`${m.message}${m.hint ? `\nhint: ${m.hint}` : ''}`);
      status.textContent = 'stopped by an error (see above)';
      setBusy(false);
      break;
  }
};

async function train(): Promise<void> {
  if (busy) return;
  banner.hidden = true;
  setBusy(true);
  const data = $<HTMLSelectElement>('data').value as 'spec' | 'synthetic' | 'moby_dick';
  const text = editor.text();
  const wantsBook = data === 'moby_dick' || (data === 'spec' && /\bdata\s+moby_dick\b/.test(text.replace(/#.*$/gm, '')));
  if (wantsBook && !mobyDick) {
    const res = await fetch('data/moby_dick.txt').catch(() => undefined);
    if (!res?.ok) {
      showBanner(`the built-in text did not load (${res ? `HTTP ${res.status}` : 'no answer from moec play'})\nhint: is moec play still running? Reload the page`);
      setBusy(false);
      return;
    }
    mobyDick = new Uint8Array(await res.arrayBuffer());
  }
  const steps = Math.max(1, Math.floor(Number($<HTMLInputElement>('steps').value) || 1));
  const name = /\bmodel\s+([A-Za-z0-9_]+)/.exec(text.replace(/#.*$/gm, ''))?.[1] ?? 'model';
  runs.push({ label: `${name} #${runs.length + 1}`, color: COLORS[runs.length % COLORS.length]!, loss: [], val: [], history: [], specText: text, total: steps, done: false, tokensPerSecond: 0 });
  status.textContent = 'compiling the spec in the page…';
  redraw();
  send({ type: 'train', text, path, steps, data, ...(wantsBook ? { mobyDick } : {}) });
}

function report(): string {
  const rows = runs.map((r) => `<tr><td>${r.label}</td><td>${r.loss.at(-1)?.[0] ?? 0}</td><td>${r.loss.at(-1)?.[1].toFixed(4) ?? '-'}</td><td>${r.val.at(-1)?.[1].toFixed(4) ?? '-'}</td><td>${Math.round(r.tokensPerSecond)}</td></tr>`).join('');
  const specs = runs.map((r) => `<h3>${r.label}</h3><pre>${r.specText.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`)}</pre>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>moec playground report</title></head><body style="font-family:system-ui,sans-serif"><h1>moec playground report</h1><p>${new Date().toISOString()}, ${$('adapter').textContent}</p><table border="1" cellpadding="4"><tr><th>run</th><th>steps</th><th>final train loss (nats/byte)</th><th>final validation loss (nats/byte)</th><th>tokens/s</th></tr>${rows}</table><h2>Loss</h2>${lossChart(runs)}<h2>Expert load (last run)</h2>${loadHeatmap(runs.at(-1)?.history ?? [])}<h2>Specs</h2>${specs}</body></html>`;
}

$('train').onclick = () => void train();
$('stop').onclick = () => send({ type: 'stop' });
$('resume').onclick = () => {
  const run = runs.at(-1);
  if (!run) return;
  // Continue for the Steps field's count from where the run is.
  run.total = (run.loss.at(-1)?.[0] ?? 0) + Math.max(1, Math.floor(Number($<HTMLInputElement>('steps').value) || 1));
  setBusy(true);
  send({ type: 'resume', steps: run.total });
};
$('download-checkpoint').onclick = () => send({ type: 'checkpoint' });
$('download-report').onclick = () => download('moec-playground-report.html', report(), 'text/html');

const select = $<HTMLSelectElement>('examples');
select.onchange = () => {
  const ex = examples.find((x) => x.path === select.value);
  if (!ex) return;
  path = ex.path;
  editor.setText(ex.text);
};

void (async () => {
  if (!('gpu' in navigator)) showBanner('This browser has no WebGPU (navigator.gpu is missing): the editor works, training does not.\nhint: use Chrome or Edge 113+ (or Chromium with --enable-unsafe-webgpu), or train with the CLI: moec train SPEC');
  examples = (await (await fetch('specs.json')).json()) as Example[];
  select.replaceChildren(...examples.map((x) => Object.assign(document.createElement('option'), { value: x.path, textContent: x.path })));
  const first = examples.find((x) => x.path === 'specs/switch.moe') ?? examples[0];
  if (first) {
    select.value = first.path;
    path = first.path;
    editor.setText(first.text);
  }
  redraw();
  setBusy(false);
})();

/** For tests and the curious: the page's state. */
(window as unknown as { moecPlayground: unknown }).moecPlayground = {
  editor,
  runs,
  diagnostics: () => diagnostics,
  busy: () => busy,
};
