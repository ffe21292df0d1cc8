// Resuming stays bit-exact with the training recipes: a CLI run with model EMA, mixup and
// CutMix, RandAugment, RandomErasing, RMSpropTF, the plateau schedule and early stopping,
// stopped by SIGINT mid-epoch and resumed, ends with the same weights, EMA weights and
// metrics as one never stopped; so does an ArcFace embedding run with EMA, TrivialAugment
// and LAMB (class centres included); the same in-process for OneCycle with LAMB; and early
// stopping ends a run for good.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { nn, torch } from '../src/index.js';
import { readWeightsInfo } from '../src/train/checkpoint.js';
import { EarlyStopping } from '../src/train/early-stopping.js';
import { ModelEma } from '../src/train/ema.js';
import type { Batch, BatchSource } from '../src/train/evaluate.js';
import { train, type TrainOptions } from '../src/train/loop.js';
import { Mixup } from '../src/train/mixup.js';
import { Lamb, paramGroupsFor } from '../src/train/optim/index.js';
import { scheduleFromSpec } from '../src/train/schedule.js';
import { metricsWithoutTimes, trainStraightAndInterrupted, weightBytes } from './helpers/interrupted-run.js';
import { tempDir } from './helpers/python.js';

torch.setNumThreads(1);

const bytesOf = weightBytes;
const metricsOf = metricsWithoutTimes;

describe('resume with the training recipes (CLI)', () => {
  const recipe = ['--model-ema', '--model-ema-decay', '0.9', '--mixup', '0.4', '--cutmix', '1', '--auto-augment', 'randaugment', '--random-erasing', '0.5',
    '--color-jitter', '0.3', '--optimizer', 'rmsproptf', '--lr', '0.01', '--schedule', 'plateau', '--plateau-patience', '0', '--gamma', '0.5', '--monitor', 'accuracy',
    '--early-stopping', '5', '--label-smoothing', '0.1'];
  const args = (out: string) =>
    ['src/cli/main.ts', 'train', 'resnet20', '--data', 'fashion-mnist', '--limit-train', '128', '--limit-test', '32', '--batch-size', '16',
      '--epochs', '3', '--seed', '2', '--threads', '1', '--no-progress', '--out', out, ...recipe];
  const cli = ['--import', 'tsx'];
  const env = { ...process.env, RESNETS_NUM_THREADS: '1', RESNETS_DEBUG: '' };

  it('a run stopped by SIGINT mid-epoch and resumed equals an uninterrupted one, EMA included', async () => {
    const dir = tempDir();
    try {
      // Ctrl-C once the first epoch is reported: the stop lands inside the second.
      const { straight, stopped, code, stdout, stderr } = await trainStraightAndInterrupted((out) => [...cli, ...args(out)], env, dir.path);
      assert.equal(code, 130, `a stop by Ctrl-C exits with 130\n${stderr}`);
      assert.match(stdout, /stopped in epoch 2 at batch \d+/);

      const resumed = await promisify(execFile)(process.execPath, [...cli, 'src/cli/main.ts', 'train', '--resume', stopped, '--no-progress', '--threads', '1'], { env });
      assert.match(resumed.stdout, /resuming .* at epoch 2/);
      assert.match(resumed.stdout, /run saved to .*ema\.safetensors/);

      for (const file of ['last.safetensors', 'best.safetensors', 'ema.safetensors']) {
        assert.deepEqual(bytesOf(join(stopped, file)), bytesOf(join(straight, file)), file);
      }
      const straightMetrics = metricsOf(straight);
      assert.deepEqual(metricsOf(stopped), straightMetrics);
      assert.ok(straightMetrics.every((m) => m.emaTestAccuracy !== undefined), 'every epoch reports the EMA weights too');
      const emaInfo = readWeightsInfo(join(stopped, 'ema.safetensors'))!;
      assert.equal(emaInfo.model, 'resnet20');
      assert.equal(emaInfo.testAccuracy, straightMetrics[2].emaTestAccuracy, "ema.safetensors carries the EMA weights' own accuracy");
      const config = JSON.parse(readFileSync(join(stopped, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(config.recipe, { autoAugment: 'randaugment', colorJitter: 0.3, randomErasing: 0.5 });
      assert.equal(config.schedule, 'plateau');
    } finally {
      dir.cleanup();
    }
  });

  it('an ArcFace run with model EMA and TrivialAugment resumes exactly: weights, class centres, EMA and metrics', async () => {
    const dir = tempDir();
    const faceArgs = (out: string) =>
      [...cli, 'src/cli/main.ts', 'train', 'resnet20', '--data', 'fashion-mnist', '--limit-train', '96', '--limit-test', '32', '--batch-size', '16',
        '--epochs', '3', '--seed', '3', '--threads', '1', '--no-progress', '--out', out,
        '--loss', 'arcface', '--embedding-size', '16', '--model-ema', '--model-ema-decay', '0.9', '--auto-augment', 'trivialaugment', '--optimizer', 'lamb'];
    try {
      const { straight, stopped, code, stdout, stderr } = await trainStraightAndInterrupted(faceArgs, env, dir.path);
      assert.equal(code, 130, `a stop by Ctrl-C exits with 130\n${stderr}`);
      assert.match(stdout, /stopped in epoch 2 at batch \d+/);

      const resumed = await promisify(execFile)(process.execPath, [...cli, 'src/cli/main.ts', 'train', '--resume', stopped, '--no-progress', '--threads', '1'], { env });
      assert.match(resumed.stdout, /resuming .* at epoch 2/);
      assert.match(resumed.stdout, /run saved to .*head\.safetensors.*ema\.safetensors/);
      for (const file of ['last.safetensors', 'best.safetensors', 'ema.safetensors', 'head.safetensors']) {
        assert.deepEqual(bytesOf(join(stopped, file)), bytesOf(join(straight, file)), file);
      }
      const straightMetrics = metricsOf(straight);
      assert.deepEqual(metricsOf(stopped), straightMetrics);
      assert.ok(straightMetrics.every((m) => m.emaTestAccuracy !== undefined), 'the EMA embedding network is scored through the class centres every epoch');
      assert.equal(readWeightsInfo(join(stopped, 'ema.safetensors'))!.loss, 'arcface', 'ema.safetensors is an embedding network too');
    } finally {
      dir.cleanup();
    }
  });
});

/** 96 8x8 one-channel images of four classes (a bright quadrant each) in a fixed order per epoch. */
class QuadrantSource implements BatchSource {
  readonly images: Float32Array;
  readonly labels: number[];
  constructor(readonly count: number, seed: number) {
    let state = seed;
    const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    this.images = new Float32Array(count * 64);
    this.labels = Array.from({ length: count }, (_, n) => n % 4);
    for (let n = 0; n < count; n++) {
      for (let p = 0; p < 64; p++) {
        const quadrant = (p < 32 ? 0 : 2) + (p % 8 < 4 ? 0 : 1);
        this.images[n * 64 + p] = (quadrant === this.labels[n] ? 1 : 0) + (random() - 0.5);
      }
    }
  }
  numBatches(): number {
    return this.count / 16;
  }
  async *batches(epoch: number, options: { startBatch?: number } = {}): AsyncIterable<Batch> {
    for (let b = options.startBatch ?? 0; b < this.numBatches(); b++) {
      const indices = Array.from({ length: 16 }, (_, i) => (b * 16 + i * 5 + epoch * 3) % this.count);
      const pixels = new Float32Array(16 * 64);
      indices.forEach((index, i) => pixels.set(this.images.subarray(index * 64, index * 64 + 64), i * 64));
      yield { images: torch.tensor(pixels, { shape: [16, 1, 8, 8] }), labels: torch.tensor(indices.map((i) => this.labels[i]), { dtype: 'int64' }), indices };
      await Promise.resolve();
    }
  }
}

function tinyModel(): nn.Module {
  torch.manualSeed(4);
  return new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.AdaptiveAvgPool2d(2), new nn.Flatten(), new nn.Linear(16, 4));
}

function tinySetup(extra: Partial<TrainOptions> = {}) {
  const model = tinyModel();
  const optimizer = new Lamb(paramGroupsFor(model, { weightDecay: 0.01, noDecayOnNormAndBias: true }), { lr: 0.02 });
  const trainData = new QuadrantSource(96, 1);
  const ema = new ModelEma(model, tinyModel(), { decay: 0.8 });
  const options: TrainOptions = {
    model,
    optimizer,
    schedule: scheduleFromSpec({ name: 'onecycle', lr: 0.02, epochs: 3 }, trainData.numBatches()),
    trainData,
    testData: new QuadrantSource(32, 2),
    epochs: 3,
    numClasses: 4,
    seed: 9,
    mixup: new Mixup({ mixupAlpha: 0.5, cutmixAlpha: 1, numClasses: 4, labelSmoothing: 0.1 }),
    ema,
    ...extra,
  };
  const release = () => {
    model.dispose();
    ema.dispose();
    optimizer.disposeState();
  };
  return { model, ema, options, release };
}

const weights = (module: nn.Module) => torch.tidy(() => Object.fromEntries(Object.entries(module.stateDict()).map(([k, t]) => [k, Buffer.from(t.toBytes()).toString('base64')])));

describe('resume with the training recipes (library)', () => {
  it('OneCycle with LAMB, EMA and mixup: stopped inside the second epoch and resumed equals straight', async () => {
    const straight = tinySetup();
    const done = await train(straight.options);
    assert.equal(done.status, 'completed');

    const first = tinySetup();
    let steps = 0;
    const stopped = await train({ ...first.options, shouldStop: () => ++steps >= 8 });
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.state.epoch, 1);
    assert.ok(stopped.state.batch > 0, 'stopped inside the second epoch');
    // A fresh process would load these from the state file; here the live tensors carry over.
    const second = tinySetup();
    torch.tidy(() => {
      second.model.loadStateDict(first.model.stateDict());
      second.ema.module.loadStateDict(first.ema.module.stateDict());
    });
    second.options.optimizer.loadStateDict(first.options.optimizer.stateDict());
    const resumed = await train({ ...second.options, resumeFrom: stopped.state });
    assert.equal(resumed.status, 'completed');
    assert.deepEqual(weights(second.model), weights(straight.model));
    assert.deepEqual(weights(second.ema.module), weights(straight.ema.module));
    assert.deepEqual(resumed.records.map((r) => r.emaTestLoss), done.records.slice(1).map((r) => r.emaTestLoss));
    for (const setup of [straight, first, second]) setup.release();
  });

  it('early stopping ends the run when the monitored loss stops improving, and a resume is refused', async () => {
    // A zero learning rate never improves the loss: patience 1 stops after epoch 2.
    const run = tinySetup({ epochs: 6, mixup: undefined, earlyStopping: new EarlyStopping({ patience: 1, minDelta: 1 }) });
    run.options.schedule = scheduleFromSpec({ name: 'constant', lr: 0, epochs: 6 }, 6);
    const result = await train(run.options);
    assert.equal(result.status, 'early-stopped');
    assert.equal(result.state.earlyStoppedAt, 2);
    assert.equal(result.records.length, 2);
    await assert.rejects(train({ ...run.options, resumeFrom: result.state }), /early stopping ended this run after epoch 2/);
    run.release();
  });
});
