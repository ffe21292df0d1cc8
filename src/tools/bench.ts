// Inference throughput: warm-up runs, then the median of timed runs, in images/s.
import type { Module } from '../nn/module.js';
import { randn } from '../torch/creation.js';
import { getNumThreads, noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

export interface InferenceInput {
  batchSize: number;
  /** Height and width of the square input. */
  size: number;
  channels?: number;
  /** Feed the input in channels-last layout (for a model with channels-last weights). */
  channelsLast?: boolean;
}

export interface InferenceBenchOptions extends InferenceInput {
  warmup?: number;
  runs?: number;
}

export interface InferenceBenchResult {
  batchSize: number;
  size: number;
  threads: number;
  warmup: number;
  runs: number;
  /** Every timed run, in milliseconds. */
  timesMs: number[];
  medianMs: number;
  imagesPerSecond: number;
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Times forwards of one model on one random batch, in eval mode without autograd. */
export class InferenceTimer {
  readonly #input: Tensor;

  constructor(
    readonly model: Module<Tensor, unknown>,
    readonly input: InferenceInput,
  ) {
    const { batchSize, size, channels = 3, channelsLast = false } = input;
    model.eval();
    this.#input = tidy(() => {
      const x = randn([batchSize, channels, size, size]);
      return channelsLast ? x.contiguous('channelsLast') : x;
    });
  }

  /** Runs `count` forwards; their times in milliseconds. */
  time(count: number): number[] {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      tidy(() => {
        noGrad(() => this.model.call(this.#input));
      });
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return times;
  }

  dispose(): void {
    this.#input.dispose();
  }
}

/** A result from the timed runs of a batch size. */
export function benchResult(input: InferenceInput, warmup: number, timesMs: number[], threads = getNumThreads()): InferenceBenchResult {
  const medianMs = median(timesMs);
  return { batchSize: input.batchSize, size: input.size, threads, warmup, runs: timesMs.length, timesMs, medianMs, imagesPerSecond: (input.batchSize * 1000) / medianMs };
}

/** Times `model`'s forward: `warmup` untimed runs, then the median of `runs`. */
export function benchmarkInference(model: Module<Tensor, unknown>, options: InferenceBenchOptions): InferenceBenchResult {
  const { warmup = 3, runs = 10 } = options;
  if (runs < 1) throw new Error(`bench: runs must be at least 1, got ${runs}`);
  const timer = new InferenceTimer(model, options);
  try {
    timer.time(warmup);
    return benchResult(options, warmup, timer.time(runs));
  } finally {
    timer.dispose();
  }
}

/** Largest |a - b| relative to the largest |reference|: how far an optimised model drifts. */
export function relativeDifference(output: Tensor, reference: Tensor): number {
  return tidy(() => {
    const scale = Math.max(reference.abs().max().item(), 1e-12);
    return output.sub(reference).abs().max().item() / scale;
  });
}
