/**
 * Training progress on the terminal: a live bar (cli-progress) with step,
 * loss, tokens/s and ETA on a TTY; plain periodic log lines otherwise (CI,
 * pipes, files), so logs stay readable.
 */
import cliProgress from 'cli-progress';
import type { StepMetrics, TrainerEvents } from '../runtime/trainer.ts';

export interface Progress extends TrainerEvents {
  message(text: string): void;
  stop(): void;
}

function fmt(x: number | undefined, digits = 3): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

export function progressReporter(label: string, startStep: number): Progress {
  const tty = !!process.stdout.isTTY && !process.env.CI;
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  let valLoss: number | undefined;
  const began = Date.now();
  const line = (s: string) => {
    if (bar) bar.stop();
    process.stdout.write(`${s}\n`);
    bar = undefined;
  };
  return {
    step(m: StepMetrics, total: number) {
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: `${label} [{bar}] step {value}/{total} | loss {loss} | val {val} | {tps} tok/s | ETA {eta_formatted}`, hideCursor: true, etaBuffer: 20 },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, m.step - 1, { loss: '-', val: fmt(valLoss), tps: '-' });
        }
        bar.update(m.step, { loss: fmt(m.loss), val: fmt(valLoss), tps: Math.round(m.tokensPerSecond) });
      } else {
        const every = Math.max(1, Math.round(total / 20));
        if (m.step === total || m.step - lastLine >= every || m.step === startStep + 1) {
          lastLine = m.step;
          const elapsed = (Date.now() - began) / 1000;
          const eta = ((total - m.step) * elapsed) / Math.max(1, m.step - startStep);
          process.stdout.write(`${label} step ${m.step}/${total}  loss ${fmt(m.loss)}  val ${fmt(valLoss)}  ${Math.round(m.tokensPerSecond)} tok/s  ETA ${eta.toFixed(0)} s\n`);
        }
      }
    },
    validation(step: number, loss: number) {
      valLoss = loss;
      if (!tty && step === 0) process.stdout.write(`${label} validation loss before training: ${fmt(loss)}\n`);
    },
    checkpoint() {},
    message(text: string) {
      line(`${label} ${text}`);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
