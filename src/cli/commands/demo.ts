// `resnets demo`: trains a CIFAR ResNet on Fashion-MNIST for a few minutes, saves the run,
// and shows the model's guesses for a handful of test images.
import type { Command } from 'commander';
import { fashionMnistStats, loadFashionMnist } from '../../data/fashion-mnist.js';
import { stackImages } from '../../data/normalize.js';
import type { ImageClassifier } from '../../models/classifier.js';
import { predictProbabilities } from '../../train/evaluate.js';
import { count, formatDuration } from '../../train/progress.js';
import type { RunConfig } from '../../train/session.js';
import { fromBytes } from '../../torch/creation.js';
import { getNumThreads, setNumThreads } from '../../torch/runtime.js';
import { tidy } from '../../torch/scope.js';
import { parseNonNegativeInt, parsePositiveInt, registeredModelOptionsHelp, parseModelOptions } from '../options.js';
import { modelInfo } from '../model-loading.js';
import { addRuntimeOptions, trainWithConsole, unusedRunFolder } from './train.js';
import { Interrupted } from '../errors.js';

/** The accuracy the demo promises. */
const TARGET = 0.85;
/** Test images shown at the end: spread over the test set. */
const SHOWN = [0, 1250, 2500, 3750, 5000, 6250, 7500, 8750];

interface DemoOptions {
  modelOptions?: Record<string, unknown>;
  out?: string;
  model: string;
  epochs: number;
  batchSize: number;
  seed: number;
  limitTrain?: number;
  dataDir?: string;
  workers: number;
  threads?: number;
  progress: boolean;
}

/** The demo's recipe: short, so no augmentation; a warm-up and cosine decay. */
function demoConfig(options: DemoOptions): RunConfig {
  return {
    model: options.model,
    modelOptions: options.modelOptions ?? {},
    data: { data: 'fashion-mnist', dataDir: options.dataDir, limitTrain: options.limitTrain },
    epochs: options.epochs,
    batchSize: options.batchSize,
    optimizer: 'sgd',
    lr: 0.1,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 5e-4,
    noDecayNormBias: true,
    schedule: 'cosine',
    warmupEpochs: 0.3,
    minLr: 0,
    labelSmoothing: 0,
    augment: false,
    seed: options.seed,
  };
}

/** A 28x28 grey image as 7 lines of 14 characters (each character covers 2x4 pixels). */
function asciiImage(pixels: Uint8Array, size = 28): string[] {
  const ramp = ' .:-=+*#%@';
  const lines: string[] = [];
  for (let y = 0; y < size; y += 4) {
    let line = '';
    for (let x = 0; x < size; x += 2) {
      let sum = 0;
      for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 2; dx++) sum += pixels[(y + dy) * size + x + dx];
      line += ramp[Math.min(ramp.length - 1, Math.floor((sum / 8 / 256) * ramp.length))];
    }
    lines.push(line);
  }
  return lines;
}

/** Prints the test images side by side, four per row, with true and predicted classes. */
function showPredictions(model: ImageClassifier, dataDir: string | undefined): void {
  const test = loadFashionMnist({ split: 'test', dataDir });
  const samples = SHOWN.map((index) => test.get(index));
  const { data, shape } = stackImages(samples.map((s) => s.image), { mean: [...fashionMnistStats.mean], std: [...fashionMnistStats.std] });
  const { probabilities, predicted } = tidy(() => {
    const input = fromBytes(new Uint8Array(data.buffer), 'float32', shape);
    const probs = predictProbabilities(model, input);
    const top = probs.max(1);
    return { probabilities: Array.from(top.values.toTypedArray() as Float32Array), predicted: Array.from(top.indices.toTypedArray() as BigInt64Array, Number) };
  });
  const width = 24;
  console.log('\npredictions for test images:');
  for (let row = 0; row < SHOWN.length; row += 4) {
    const chunk = samples.slice(row, row + 4).map((sample, i) => {
      const k = row + i;
      const right = predicted[k] === sample.label;
      return {
        art: asciiImage(sample.image.data as Uint8Array),
        lines: [
          `#${SHOWN[k]}`,
          `true: ${test.classes[sample.label]}`,
          `said: ${test.classes[predicted[k]]}`,
          `${(probabilities[k] * 100).toFixed(1)}% ${right ? 'right' : 'WRONG'}`,
        ],
      };
    });
    const artLines = chunk[0].art.length;
    for (let line = 0; line < artLines; line++) console.log(chunk.map((c) => `  ${c.art[line]}`.padEnd(width)).join(''));
    for (let line = 0; line < 4; line++) console.log(chunk.map((c) => `  ${c.lines[line]}`.slice(0, width - 1).padEnd(width)).join(''));
    console.log('');
  }
}

export function register(program: Command): void {
  const command = program
    .command('demo')
    .description(`Train a CIFAR ResNet-20 on Fashion-MNIST for a few minutes (at least ${TARGET * 100}% test accuracy), save the run and show predictions`)
    .option('--out <dir>', 'run folder (default: runs/demo, or runs/demo-2, ... if taken)')
    .option('--model <name>', 'model to train', 'resnet20')
    .option('--model-options <json>', registeredModelOptionsHelp, parseModelOptions)
    .option('--epochs <n>', 'epochs (each is 60,000 images)', parsePositiveInt, 2)
    .option('--batch-size <n>', 'images per step', parsePositiveInt, 128)
    .option('--seed <n>', 'seed of the weights and data order', parseNonNegativeInt, 0)
    .option('--limit-train <n>', 'train on only the first N images (a quicker, less accurate demo)', parsePositiveInt)
    .option('--data-dir <dir>', "where Fashion-MNIST's IDX files are, if not where Debian's package puts them");
  addRuntimeOptions(command).action(async (options: DemoOptions) => {
    if (options.threads !== undefined) setNumThreads(options.threads);
    modelInfo(options.model); // before the banner: an unknown name suggests close ones and 'resnets list'
    const config = demoConfig(options);
    const out = options.out ?? unusedRunFolder('runs/demo');
    console.log(`resnets demo: ${config.model} on Fashion-MNIST, ${count(config.epochs, 'epoch')}, ${count(getNumThreads(), 'thread')}; run folder ${out}`);
    const started = performance.now();
    const { result, model } = await trainWithConsole(config, { out, resume: false, workers: options.workers, progress: options.progress });
    try {
      if (result.status === 'stopped') throw new Interrupted();
      // The demo's config has no embedding loss, so the run trained a classifier.
      showPredictions(model as ImageClassifier, options.dataDir);
      const last = result.records[result.records.length - 1];
      const accuracy = last.testAccuracy ?? 0;
      const verdict = accuracy >= TARGET ? `passes the ${TARGET * 100}% target` : `is below the ${TARGET * 100}% target`;
      console.log(`test accuracy ${(accuracy * 100).toFixed(2)}% after ${count(config.epochs, 'epoch')} in ${formatDuration((performance.now() - started) / 1000)}: ${verdict}`);
      console.log(`curves: ${out}/curves.svg   weights: ${out}/best.safetensors`);
      console.log(`evaluate again with: resnets eval ${config.model} --weights ${out}/best.safetensors --data fashion-mnist`);
    } finally {
      model.dispose();
    }
  });
}
