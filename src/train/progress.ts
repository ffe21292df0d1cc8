// What a person watching a training run sees: a progress bar per epoch (images/s, loss,
// accuracy, time left) on a terminal, and one summary line per epoch everywhere.
import cliProgress from 'cli-progress';
import type { EpochRecord, StepProgress } from './loop.js';

/** 75 -> "1m15s", 3700 -> "1h01m", 9 -> "9s". */
/** "1 epoch", "30 epochs". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const percent = (fraction: number | undefined, digits = 2) => (fraction === undefined ? '-' : `${(fraction * 100).toFixed(digits)}%`);

/** "epoch  3/30  train loss 0.3121 acc 88.72% | test loss 0.2987 acc 89.40% top-5 99.81% | lr 0.0973 | 52s, 1150 img/s" */
export function formatEpoch(record: EpochRecord, epochs: number, isBest: boolean): string {
  const width = String(epochs).length;
  const test =
    record.testLoss === undefined ? '' : ` | test loss ${record.testLoss.toFixed(4)} acc ${percent(record.testAccuracy)}${record.testTop5 === undefined ? '' : ` top-5 ${percent(record.testTop5)}`}`;
  const ema = record.emaTestLoss === undefined ? '' : ` | EMA loss ${record.emaTestLoss.toFixed(4)} acc ${percent(record.emaTestAccuracy)}`;
  return (
    `epoch ${String(record.epoch).padStart(width)}/${epochs}  train loss ${record.trainLoss.toFixed(4)} acc ${percent(record.trainAccuracy)}` +
    `${test}${ema} | lr ${record.lr.toPrecision(3)} | ${formatDuration(record.seconds)}, ${Math.round(record.trainImagesPerSecond)} img/s${isBest ? '  *best*' : ''}`
  );
}

export interface ProgressView {
  step(progress: StepProgress): void;
  evaluating(): void;
  epoch(record: EpochRecord, epochs: number, isBest: boolean): void;
  message(text: string): void;
  stop(): void;
}

/** "  epoch 1/30 batch 120/468 | 640 img/s | loss 0.6123 | acc 78.1% | lr 0.0998 | 5m10s left" */
export function formatStep(p: StepProgress): string {
  return (
    `  epoch ${p.epoch + 1}/${p.epochs} batch ${p.batch}/${p.batches} | ${Math.round(p.imagesPerSecond)} img/s | loss ${p.loss.toFixed(4)} | ` +
    `acc ${percent(p.accuracy, 1)} | lr ${p.lr.toPrecision(3)} | ${formatDuration(p.etaSeconds)} left`
  );
}

/**
 * A bar on an interactive terminal (stderr); elsewhere (logs, CI) a progress line every
 * `logEverySeconds` (default 60; 0 for none) and the epoch lines, so files stay readable.
 */
export function createProgressView(options: { interactive?: boolean; write?: (line: string) => void; logEverySeconds?: number } = {}): ProgressView {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const interactive = options.interactive ?? Boolean(process.stderr.isTTY);
  const logEvery = (options.logEverySeconds ?? 60) * 1000;
  let lastLog = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  let barEpoch = -1;
  const close = () => {
    bar?.stop();
    bar = undefined;
    barEpoch = -1;
  };
  return {
    step(p) {
      if (!interactive) {
        const now = performance.now();
        if (logEvery > 0 && now - lastLog >= logEvery && p.batch < p.batches) {
          lastLog = now;
          write(formatStep(p));
        }
        return;
      }
      if (!bar || barEpoch !== p.epoch) {
        close();
        bar = new cliProgress.SingleBar(
          {
            format: `epoch ${p.epoch + 1}/${p.epochs} {bar} {value}/{total} | {speed} img/s | loss {loss} | acc {acc} | lr {lr} | {eta} left`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            stream: process.stderr,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.batches, p.batch, { speed: '-', loss: '-', acc: '-', lr: '-', eta: '-' });
        barEpoch = p.epoch;
      }
      bar.update(p.batch, {
        speed: Math.round(p.imagesPerSecond),
        loss: p.loss.toFixed(4),
        acc: percent(p.accuracy, 1),
        lr: p.lr.toPrecision(3),
        eta: formatDuration(p.etaSeconds),
      });
    },
    evaluating() {
      if (bar) bar.update({ eta: 'evaluating,' });
    },
    epoch(record, epochs, isBest) {
      close();
      lastLog = performance.now();
      write(formatEpoch(record, epochs, isBest));
    },
    message(text) {
      close();
      write(text);
    },
    stop: close,
  };
}
