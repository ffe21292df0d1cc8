// The training loop on a tiny network and in-memory data: the loss falls, seeded runs
// repeat exactly, a stop and resume equals an uninterrupted run, memory stays flat, and
// a NaN loss stops with a message and leaves the last good checkpoint.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nn, torch } from '../src/index.js';
import { RunDirectory, readMetricsFile } from '../src/train/checkpoint.js';
import type { Batch, BatchSource } from '../src/train/evaluate.js';
import { NonFiniteLossError, train, type TrainOptions } from '../src/train/loop.js';
import { SGD, paramGroupsFor } from '../src/train/optim/index.js';
import { scheduleFromSpec } from '../src/train/schedule.js';
import { loadSafetensors } from '../src/io/safetensors.js';
import { tempDir } from './helpers/python.js';

torch.setNumThreads(1);

/** Four classes of 8x8 images: a bright quadrant per class, plus noise. */
function makeData(count: number, seed: number): { images: Float32Array; labels: number[] } {
  let state = seed;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const images = new Float32Array(count * 64);
  const labels: number[] = [];
  for (let n = 0; n < count; n++) {
    const label = n % 4;
    labels.push(label);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const quadrant = (y < 4 ? 0 : 2) + (x < 4 ? 0 : 1);
        images[n * 64 + y * 8 + x] = (quadrant === label ? 1 : 0) + (random() - 0.5) * 1.2;
      }
    }
  }
  return { images, labels };
}

/** Batches in an order that depends only on (seed, epoch); optionally poisons one batch with NaN. */
class MemorySource implements BatchSource {
  constructor(
    readonly data: { images: Float32Array; labels: number[] },
    readonly batchSize: number,
    readonly seed: number,
    readonly shuffle = true,
    readonly poison?: { epoch: number; batch: number },
  ) {}
  numBatches(): number {
    return Math.floor(this.data.labels.length / this.batchSize);
  }
  order(epoch: number): number[] {
    const order = this.data.labels.map((_, i) => i);
    if (!this.shuffle) return order;
    let state = (this.seed * 7919 + epoch * 104729) >>> 0;
    const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }
  async *batches(epoch: number, options: { startBatch?: number } = {}): AsyncIterable<Batch> {
    const order = this.order(epoch);
    for (let b = options.startBatch ?? 0; b < this.numBatches(); b++) {
      const indices = order.slice(b * this.batchSize, (b + 1) * this.batchSize);
      const pixels = new Float32Array(indices.length * 64);
      indices.forEach((index, i) => pixels.set(this.data.images.subarray(index * 64, index * 64 + 64), i * 64));
      if (this.poison && this.poison.epoch === epoch && this.poison.batch === b) pixels.fill(Number.NaN);
      yield {
        images: torch.tensor(pixels, { shape: [indices.length, 1, 8, 8] }),
        labels: torch.tensor(indices.map((i) => this.data.labels[i]), { dtype: 'int64' }),
        indices,
      };
      await Promise.resolve();
    }
  }
}

function makeModel(seed: number): nn.Module {
  torch.manualSeed(seed);
  return new nn.Sequential(
    new nn.Conv2d(1, 6, 3, { padding: 1, bias: false }),
    new nn.BatchNorm2d(6),
    new nn.ReLU(),
    new nn.AdaptiveAvgPool2d(2),
    new nn.Flatten(),
    new nn.Linear(24, 4),
  );
}

interface Setup {
  model: nn.Module;
  options: TrainOptions;
}

type SetupOverrides = Partial<TrainOptions> & { seed?: number; modelSeed?: number; epochs?: number; poison?: { epoch: number; batch: number } };

function setup(overrides: SetupOverrides = {}): Setup {
  const seed = overrides.seed ?? 3;
  const model = makeModel(overrides.modelSeed ?? seed);
  const optimizer = new SGD(paramGroupsFor(model, { weightDecay: 5e-4, noDecayOnNormAndBias: true }), { lr: 0.1, momentum: 0.9, nesterov: true });
  const trainData = new MemorySource(makeData(128, 11), 16, seed, true, overrides.poison);
  const testData = new MemorySource(makeData(64, 12), 32, seed, false);
  const epochs = overrides.epochs ?? 3;
  const options: TrainOptions = {
    model,
    optimizer,
    schedule: scheduleFromSpec({ name: 'cosine', lr: 0.1, epochs, warmupEpochs: 1 }, trainData.numBatches()),
    trainData,
    testData,
    epochs,
    numClasses: 4,
    seed,
    labelSmoothing: 0.1,
    ...overrides,
  };
  return { model, options };
}

function weightsOf(model: nn.Module): Map<string, Uint8Array> {
  return new Map(Object.entries(model.stateDict()).map(([k, t]) => [k, t.toBytes()]));
}

describe('training loop', () => {
  it('the loss falls and accuracy rises', async () => {
    const { model, options } = setup();
    const result = await train(options);
    assert.equal(result.status, 'completed');
    const [first, , last] = result.records;
    assert.ok(last.trainLoss < first.trainLoss * 0.8, `train loss ${first.trainLoss} -> ${last.trainLoss}`);
    assert.ok(last.testAccuracy! > 0.8, `test accuracy ${last.testAccuracy}`);
    assert.ok(last.lr < 0.01, 'the cosine schedule ends near zero');
    model.dispose();
    options.optimizer.disposeState();
  });

  it('runs with the same seed repeat exactly; another seed differs', async () => {
    const runs = [];
    for (const seed of [5, 5, 6]) {
      const { model, options } = setup({ seed, epochs: 2 });
      const result = await train(options);
      runs.push({ weights: weightsOf(model), records: result.records.map(({ seconds, trainImagesPerSecond, ...r }) => r) });
      model.dispose();
      options.optimizer.disposeState();
    }
    assert.deepEqual(runs[0].weights, runs[1].weights);
    assert.deepEqual(runs[0].records, runs[1].records);
    assert.notDeepEqual(runs[0].weights, runs[2].weights);
  });

  for (const precision of ['fp32', 'bf16'] as const) it(`stopping mid-epoch and resuming from the state file equals an uninterrupted run (${precision})`, async () => {
    const dir = tempDir();
    try {
      const straight = setup({ epochs: 2, precision });
      await train(straight.options);

      const info = { model: 'tiny', modelOptions: {}, classes: ['a', 'b', 'c', 'd'], inputShape: [1, 8, 8] as [number, number, number], mean: [0], std: [1], cropPct: 1 };
      const first = setup({ epochs: 2, precision });
      let steps = 0;
      const run = new RunDirectory(dir.path, info);
      const stopped = await train({ ...first.options, run, shouldStop: () => ++steps === 5 });
      assert.equal(stopped.status, 'stopped');
      assert.deepEqual([stopped.state.epoch, stopped.state.batch, stopped.state.iteration], [0, 5, 5]);

      const second = setup({ epochs: 2, modelSeed: 99, precision }); // other initial weights: the state file must replace them
      const state = run.loadState(second.model, second.options.optimizer);
      const resumed = await train({ ...second.options, run, resumeFrom: state });
      assert.equal(resumed.status, 'completed');
      assert.deepEqual(weightsOf(second.model), weightsOf(straight.model));
      const metrics = readMetricsFile(join(dir.path, 'metrics.jsonl'));
      assert.deepEqual(metrics.map((m) => m.epoch), [1, 2]);
      for (const s of [straight, first, second]) {
        s.model.dispose();
        s.options.optimizer.disposeState();
      }
    } finally {
      dir.cleanup();
    }
  });

  it('holds flat memory across epochs', async () => {
    const live: number[] = [];
    const { model, options } = setup({ epochs: 4, onEpoch: () => live.push(torch.memory().liveTensors) });
    await train(options);
    assert.equal(live.length, 4);
    assert.equal(live[3], live[1], `live tensors by epoch: ${live.join(', ')}`);
    model.dispose();
    options.optimizer.disposeState();
  });

  it('a NaN loss stops naming the step and lr, and keeps the last good checkpoint', async () => {
    const dir = tempDir();
    try {
      const info = { model: 'tiny', modelOptions: {}, classes: ['a', 'b', 'c', 'd'], inputShape: [1, 8, 8] as [number, number, number], mean: [0], std: [1], cropPct: 1 };
      const run = new RunDirectory(dir.path, info);
      const { model, options } = setup({ epochs: 3, poison: { epoch: 1, batch: 2 }, run });
      let saved: Map<string, Uint8Array> | undefined;
      await assert.rejects(
        train({ ...options, onEpoch: () => (saved = weightsOf(model)) }),
        (error: unknown) => {
          assert.ok(error instanceof NonFiniteLossError);
          assert.match(error.message, /^loss became NaN at step 11 \(epoch 2, lr 0\.\d+\); last good checkpoint kept at .*last\.safetensors/);
          assert.equal(error.iteration, 10);
          return true;
        },
      );
      const kept = loadSafetensors(join(dir.path, 'last.safetensors'));
      assert.deepEqual(new Map(Object.entries(kept).map(([k, t]) => [k, t.toBytes()])), saved);
      assert.equal(readFileSync(join(dir.path, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 1);
      assert.ok(existsSync(join(dir.path, 'curves.svg')));
      torch.dispose(kept);
      model.dispose();
      options.optimizer.disposeState();
    } finally {
      dir.cleanup();
    }
  });
});
