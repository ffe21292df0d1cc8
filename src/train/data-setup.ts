// Turns a data description ('fashion-mnist' or an image folder, limits, image size) into
// datasets and loaders with the augmentation and normalisation training uses. Shared by
// the train, eval and demo commands so every one of them sees the data the same way.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { subset, type Dataset } from '../data/dataset.js';
import { fashionMnistStats, loadFashionMnist } from '../data/fashion-mnist.js';
import { loadImageFolder, type ImageFolder, type SkippedFile } from '../data/image-folder.js';
import { keepClasses } from '../data/in-memory.js';
import { DataLoader } from '../data/loader.js';
import { centerCrop, compose, randomCrop, randomHorizontalFlip, randomResizedCrop, resize, type Transform } from '../data/transforms.js';

/** The share of the resized image evaluation keeps: folders are resized to size / 0.875 and centre-cropped. */
export const FOLDER_CROP_PCT = 0.875;

export interface DataSpec {
  /** 'fashion-mnist', or a folder of class sub-folders (optionally with train/ and test/ or val/ inside). */
  data: string;
  /** A separate folder of test images (for image-folder data without a test/ split). */
  testData?: string;
  /** Fashion-MNIST's folder when it is not where Debian's package puts it. */
  dataDir?: string;
  /** Image folders: decode to 1 or 3 channels. */
  channels?: 1 | 3;
  /** Image folders: the side length the network sees. */
  imageSize?: number;
  strict?: boolean;
  /** Use only the first N training / test samples. */
  limitTrain?: number;
  limitTest?: number;
  /** Fashion-MNIST: keep only these classes (indices 0-9), relabelled in this order; applied before the limits. */
  classes?: number[];
  /**
   * Image folders of aligned crops (faces, one folder per identity): resized straight to
   * the image size with no crop, and the only augmentation is the horizontal flip, as
   * InsightFace trains on its aligned 112x112 images (rand_mirror).
   */
  aligned?: boolean;
}

export interface PreparedData {
  kind: 'fashion-mnist' | 'image-folder';
  train?: Dataset;
  test?: Dataset;
  classes: string[];
  /** [channels, height, width] of a batch sample. */
  inputShape: [number, number, number];
  /** Unreadable files left out of the image folders. */
  skipped: SkippedFile[];
  /** One line saying what was loaded. */
  description: string;
  /** Folder images are aligned crops (see DataSpec.aligned). */
  aligned?: boolean;
}

/** The first `limit` samples (Fashion-MNIST's classes are already mixed). */
const limitTo = (dataset: Dataset, limit: number | undefined): Dataset =>
  limit === undefined || limit >= dataset.length ? dataset : subset(dataset, Array.from({ length: limit }, (_, i) => i));

/** `limit` samples spread evenly over a folder dataset, which is ordered class by class, so every class keeps its share. */
const spreadOver = (dataset: Dataset, limit: number | undefined): Dataset =>
  limit === undefined || limit >= dataset.length ? dataset : subset(dataset, Array.from({ length: limit }, (_, i) => Math.floor((i * dataset.length) / limit)));

function isFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/**
 * Loads the training and/or test split described by `spec`. `test: 'if-present'` loads
 * a test split only where the data has one; `true` falls back to the training folder.
 */
export async function prepareData(spec: DataSpec, need: { train: boolean; test: boolean | 'if-present' }): Promise<PreparedData> {
  if (spec.data.toLowerCase() === 'fashion-mnist' || spec.data.toLowerCase() === 'fashion_mnist') {
    const load = (split: 'train' | 'test') => {
      const all = loadFashionMnist({ split, dataDir: spec.dataDir });
      return spec.classes ? keepClasses(all, spec.classes) : all;
    };
    const train = need.train ? limitTo(load('train'), spec.limitTrain) : undefined;
    const test = need.test ? limitTo(load('test'), spec.limitTest) : undefined;
    const classes = (train ?? test)!.classes;
    const counts = [train && `${train.length} training`, test && `${test.length} test`].filter(Boolean).join(' and ');
    return { kind: 'fashion-mnist', train, test, classes, inputShape: [1, 28, 28], skipped: [], description: `Fashion-MNIST: ${counts} images, 28x28 grey, ${classes.length} classes` };
  }

  if (spec.classes) throw new Error('choosing classes by index applies to Fashion-MNIST; for a folder, keep only the class sub-folders to train on');
  if (!isFolder(spec.data)) {
    throw new Error(`--data must be 'fashion-mnist' or a folder of class sub-folders; '${spec.data}' is neither`);
  }
  // DIR/train + DIR/test (or DIR/val) is a split dataset; otherwise DIR itself is the training set.
  const split = isFolder(join(spec.data, 'train'));
  const trainRoot = split ? join(spec.data, 'train') : spec.data;
  const testRoot = spec.testData ?? (split ? ['test', 'val'].map((name) => join(spec.data, name)).find(isFolder) : undefined);
  if (spec.testData !== undefined && !isFolder(spec.testData)) throw new Error(`--test-data '${spec.testData}' is not a folder`);
  const channels = spec.channels ?? 3;
  const size = spec.imageSize ?? 64;
  // Decoding straight to a little above the network's size (shrink-on-load) keeps large photos cheap.
  const options = { channels, strict: spec.strict ?? false, shortSide: spec.aligned ? size : Math.floor(size / FOLDER_CROP_PCT) };
  // Without training there is no need to list the training folder, except when it is
  // also the evaluation data (a folder with no test split).
  const evaluateOnTrain = need.test === true && testRoot === undefined;
  const trainFolder: ImageFolder | undefined = need.train || evaluateOnTrain ? await loadImageFolder(trainRoot, options) : undefined;
  const testFolder: ImageFolder | undefined = need.test && testRoot !== undefined ? await loadImageFolder(testRoot, options) : undefined;
  const reference = trainFolder ?? testFolder!;
  if (trainFolder && testFolder && trainFolder.classes.join('\n') !== testFolder.classes.join('\n')) {
    throw new Error(`the training folder ${trainRoot} has classes [${trainFolder.classes.join(', ')}] but the test folder ${testRoot} has [${testFolder.classes.join(', ')}]`);
  }
  const train = need.train && trainFolder ? spreadOver(trainFolder, spec.limitTrain) : undefined;
  const testSource = testFolder ?? (evaluateOnTrain ? trainFolder : undefined);
  const test = testSource ? spreadOver(testSource, spec.limitTest) : undefined;
  const skipped = [...(trainFolder?.skipped ?? []), ...(testFolder?.skipped ?? [])];
  const parts = [train && `${train.length} training images from ${trainRoot}`, test && `${test.length} test images from ${testFolder ? testRoot : `${trainRoot} (no test split)`}`];
  return {
    kind: 'image-folder',
    train,
    test,
    classes: reference.classes,
    inputShape: [channels, size, size],
    skipped,
    description: `${parts.filter(Boolean).join(', ')}; ${reference.classes.length} classes, ${size}x${size}${spec.aligned ? ' aligned crops' : ''}, ${channels === 1 ? 'grey' : 'RGB'}`,
    aligned: spec.aligned ?? false,
  };
}

/** Training augmentation: Fashion-MNIST gets pad-4 random crops and flips; folders random resized crops and flips; aligned crops flips only. */
export function trainTransform(data: PreparedData, augment: boolean): Transform | undefined {
  const [, size] = data.inputShape;
  if (data.kind === 'fashion-mnist') return augment ? compose([randomCrop(size, { padding: 4 }), randomHorizontalFlip()]) : undefined;
  if (data.aligned) return augment ? compose([evalTransform(data)!, randomHorizontalFlip()]) : evalTransform(data);
  return augment ? compose([randomResizedCrop(size, { scale: [0.35, 1] }), randomHorizontalFlip()]) : evalTransform(data);
}

/** Evaluation: Fashion-MNIST as is; folders resized to size / FOLDER_CROP_PCT (aligned crops: to size) and centre-cropped. */
export function evalTransform(data: PreparedData): Transform | undefined {
  const [, size] = data.inputShape;
  if (data.kind === 'fashion-mnist') return undefined;
  return compose([resize(data.aligned ? size : Math.floor(size / FOLDER_CROP_PCT)), centerCrop(size)]);
}

/** Per-channel mean and std: Fashion-MNIST's own, else ImageNet's (RGB) or 0.5 (grey). */
export function normalizationFor(data: PreparedData): { mean: number[]; std: number[] } {
  if (data.kind === 'fashion-mnist') return { mean: [...fashionMnistStats.mean], std: [...fashionMnistStats.std] };
  return data.inputShape[0] === 3 ? { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } : { mean: [0.5], std: [0.5] };
}

export interface LoaderSettings {
  batchSize: number;
  seed: number;
  augment: boolean;
  /** Batches prepared ahead while the model trains. */
  prefetch: number;
  normalization: { mean: number[]; std: number[] };
}

export function trainLoader(data: PreparedData, settings: LoaderSettings): DataLoader {
  if (!data.train) throw new Error('no training data was loaded');
  return new DataLoader(data.train, {
    batchSize: Math.min(settings.batchSize, data.train.length),
    shuffle: true,
    seed: settings.seed,
    dropLast: true,
    transform: trainTransform(data, settings.augment),
    normalize: settings.normalization,
    prefetch: settings.prefetch,
  });
}

export function testLoader(data: PreparedData, settings: Omit<LoaderSettings, 'augment' | 'seed'>): DataLoader {
  if (!data.test) throw new Error('no test data was loaded');
  return new DataLoader(data.test, {
    batchSize: settings.batchSize,
    shuffle: false,
    dropLast: false,
    transform: evalTransform(data),
    normalize: settings.normalization,
    prefetch: settings.prefetch,
  });
}

/** "3 unreadable images were skipped: a.jpg (reason); ..." or undefined when none were. */
export function describeSkipped(skipped: SkippedFile[]): string | undefined {
  if (skipped.length === 0) return undefined;
  const shown = skipped.slice(0, 3).map((s) => `${s.path} (${s.reason.split('\n')[0]})`).join('; ');
  return `${skipped.length} unreadable image${skipped.length === 1 ? ' was' : 's were'} skipped: ${shown}${skipped.length > 3 ? `; and ${skipped.length - 3} more` : ''} (--strict makes this an error)`;
}
