// Turns a data description (a built-in set such as 'fashion-mnist' or 'cifar10', or an
// image folder; limits, image size, validation split) into datasets and loaders with the
// augmentation and normalisation training uses. Shared by the train, eval and demo
// commands so every one of them sees the data the same way.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { colorJitter } from '../data/augment/color-jitter.js';
import { randAugment, trivialAugmentWide } from '../data/augment/rand-augment.js';
import { randomErasing, type TensorTransform } from '../data/augment/random-erasing.js';
import { cifarStats, loadCifar, type Cifar100Labels } from '../data/cifar.js';
import { subset, type Dataset } from '../data/dataset.js';
import { fashionMnistStats, loadFashionMnist } from '../data/fashion-mnist.js';
import { loadImageFolder, type ImageFolder, type SkippedFile } from '../data/image-folder.js';
import { keepClasses, type InMemoryDataset } from '../data/in-memory.js';
import type { Shard } from '../data/distributed-sampler.js';
import { DataLoader } from '../data/loader.js';
import { loadMnist, mnistStats } from '../data/mnist.js';
import { stratifiedSplit } from '../data/split.js';
import { centerCrop, compose, randomCrop, randomHorizontalFlip, randomResizedCrop, resize, type Transform } from '../data/transforms.js';

/** The share of the resized image evaluation keeps: folders are resized to size / 0.875 and centre-cropped. */
export const FOLDER_CROP_PCT = 0.875;

export type BuiltinDataName = 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100';

export interface DataSpec {
  /** 'fashion-mnist', 'mnist', 'cifar10', 'cifar100', or a folder of class sub-folders (optionally with train/ and test/ or val/ inside). */
  data: string;
  /** A separate folder of test images (for image-folder data without a test/ split). */
  testData?: string;
  /** The built-in set's files: required for MNIST and CIFAR; for Fashion-MNIST when not where Debian's package puts it. */
  dataDir?: string;
  /** CIFAR-100: train on the 100 fine classes (default) or the 20 coarse superclasses. */
  cifar100Labels?: Cifar100Labels;
  /** Image folders: decode to 1 or 3 channels. */
  channels?: 1 | 3;
  /** Image folders: the side length the network sees. */
  imageSize?: number;
  strict?: boolean;
  /** Use only the first N training / test samples. */
  limitTrain?: number;
  limitTest?: number;
  /** Folders without a test split: hold out this share of every class as the evaluation set (seeded by validationSeed). */
  valSplit?: number;
  validationSeed?: number;
  /** Built-in sets: keep only these classes (indices into the set's classes), relabelled in this order; applied before the limits. */
  classes?: number[];
  /**
   * Image folders of aligned crops (faces, one folder per identity): resized straight to
   * the image size with no crop, and the only augmentation is the horizontal flip, as
   * InsightFace trains on its aligned 112x112 images (rand_mirror).
   */
  aligned?: boolean;
}

export interface PreparedData {
  kind: BuiltinDataName | 'image-folder';
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

interface BuiltinData {
  title: string;
  load(split: 'train' | 'test', spec: DataSpec): InMemoryDataset;
  inputShape: [number, number, number];
  stats: { mean: readonly number[]; std: readonly number[] };
  /** Mirrored images are still their class (not so for digits). */
  flips: boolean;
  colour: string;
}

const builtins: Record<BuiltinDataName, BuiltinData> = {
  'fashion-mnist': {
    title: 'Fashion-MNIST',
    load: (split, spec) => loadFashionMnist({ split, dataDir: spec.dataDir }),
    inputShape: [1, 28, 28],
    stats: fashionMnistStats,
    flips: true,
    colour: 'grey',
  },
  mnist: {
    title: 'MNIST',
    load: (split, spec) => loadMnist({ split, dataDir: spec.dataDir ?? '' }),
    inputShape: [1, 28, 28],
    stats: mnistStats,
    flips: false,
    colour: 'grey',
  },
  cifar10: {
    title: 'CIFAR-10',
    load: (split, spec) => loadCifar('cifar10', { split, dataDir: spec.dataDir ?? '' }),
    inputShape: [3, 32, 32],
    stats: cifarStats.cifar10,
    flips: true,
    colour: 'RGB',
  },
  cifar100: {
    title: 'CIFAR-100',
    load: (split, spec) => loadCifar('cifar100', { split, dataDir: spec.dataDir ?? '', labels: spec.cifar100Labels }),
    inputShape: [3, 32, 32],
    stats: cifarStats.cifar100,
    flips: true,
    colour: 'RGB',
  },
};
export const builtinDataNames = Object.keys(builtins) as BuiltinDataName[];

/** The built-in set `data` names ('Fashion_MNIST' and 'CIFAR10' too), or undefined for a folder. */
export function builtinDataName(data: string): BuiltinDataName | undefined {
  const key = data.toLowerCase().replace('_', '-');
  return (builtinDataNames as string[]).includes(key) ? (key as BuiltinDataName) : undefined;
}

/** 'Fashion-MNIST', 'CIFAR-10', or the folder as given. */
export function dataTitle(data: string): string {
  const name = builtinDataName(data);
  return name ? builtins[name].title : data;
}

/** The first `limit` samples (the built-in sets' classes are already mixed). */
const limitTo = (dataset: Dataset, limit: number | undefined): Dataset =>
  limit === undefined || limit >= dataset.length ? dataset : subset(dataset, Array.from({ length: limit }, (_, i) => i));

/** `limit` samples spread evenly over a folder dataset, which is ordered class by class, so every class keeps its share. */
const spreadOver = (dataset: Dataset, limit: number | undefined): Dataset =>
  limit === undefined || limit >= dataset.length ? dataset : subset(dataset, Array.from({ length: limit }, (_, i) => Math.floor((i * dataset.length) / limit)));

function isFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function prepareBuiltin(name: BuiltinDataName, spec: DataSpec, need: { train: boolean; test: boolean | 'if-present' }): PreparedData {
  const builtin = builtins[name];
  if (spec.valSplit !== undefined) throw new Error(`--val-split is for folders without a test split; ${builtin.title} has its own test set`);
  if (spec.cifar100Labels !== undefined && name !== 'cifar100') throw new Error(`--cifar100-labels applies to cifar100 only, not ${builtin.title}`);
  // Options for image folders would otherwise be ignored without a word.
  const [channels, height, width] = builtin.inputShape;
  const folderOnly: string[] = [];
  if (spec.imageSize !== undefined && spec.imageSize !== height) folderOnly.push(`--image-size ${spec.imageSize}`);
  if (spec.channels !== undefined && spec.channels !== channels) folderOnly.push(`--channels ${spec.channels}`);
  if (spec.testData !== undefined) folderOnly.push('--test-data');
  if (folderOnly.length > 0) throw new Error(`${folderOnly.join(', ')}: for image folders only; ${builtin.title} images are ${height}x${width} ${builtin.colour} with their own test split`);
  const load = (split: 'train' | 'test') => {
    const all = builtin.load(split, spec);
    return spec.classes ? keepClasses(all, spec.classes) : all;
  };
  const train = need.train ? limitTo(load('train'), spec.limitTrain) : undefined;
  const test = need.test ? limitTo(load('test'), spec.limitTest) : undefined;
  const classes = (train ?? test)!.classes;
  const counts = [train && `${train.length} training`, test && `${test.length} test`].filter(Boolean).join(' and ');
  return { kind: name, train, test, classes, inputShape: [...builtin.inputShape], skipped: [], description: `${builtin.title}: ${counts} images, ${height}x${width} ${builtin.colour}, ${classes.length} classes` };
}

/**
 * Loads the training and/or test split described by `spec`. `test: 'if-present'` loads
 * a test split only where the data has one (or a --val-split makes one); `true` falls
 * back to the training folder.
 */
export async function prepareData(spec: DataSpec, need: { train: boolean; test: boolean | 'if-present' }): Promise<PreparedData> {
  const builtin = builtinDataName(spec.data);
  if (builtin) return prepareBuiltin(builtin, spec, need);

  if (spec.classes) throw new Error('choosing classes by index applies to the built-in sets; for a folder, keep only the class sub-folders to train on');
  if (!isFolder(spec.data)) {
    throw new Error(`--data must be one of ${builtinDataNames.join(', ')} or a folder of class sub-folders; '${spec.data}' is neither`);
  }
  if (spec.cifar100Labels !== undefined) throw new Error('--cifar100-labels applies to cifar100 only, not to a folder');
  // DIR/train + DIR/test (or DIR/val) is a split dataset; otherwise DIR itself is the training set.
  const split = isFolder(join(spec.data, 'train'));
  const trainRoot = split ? join(spec.data, 'train') : spec.data;
  const testRoot = spec.testData ?? (split ? ['test', 'val'].map((name) => join(spec.data, name)).find(isFolder) : undefined);
  if (spec.testData !== undefined && !isFolder(spec.testData)) throw new Error(`--test-data '${spec.testData}' is not a folder`);
  if (spec.valSplit !== undefined && testRoot !== undefined) {
    throw new Error(`--val-split holds out images of a folder without a test split, but ${testRoot} is one; leave out --val-split`);
  }
  const channels = spec.channels ?? 3;
  const size = spec.imageSize ?? 64;
  // Decoding straight to a little above the network's size (shrink-on-load) keeps large photos cheap.
  const options = { channels, strict: spec.strict ?? false, shortSide: spec.aligned ? size : Math.floor(size / FOLDER_CROP_PCT) };
  const validation = spec.valSplit !== undefined;
  // Without training there is no need to list the training folder, except when it is
  // also the evaluation data (a folder with no test split, or a held-out part of it).
  const evaluateOnTrain = (need.test === true || (need.test && validation)) && testRoot === undefined;
  const trainFolder: ImageFolder | undefined = need.train || evaluateOnTrain ? await loadImageFolder(trainRoot, options) : undefined;
  const testFolder: ImageFolder | undefined = need.test && testRoot !== undefined ? await loadImageFolder(testRoot, options) : undefined;
  const reference = trainFolder ?? testFolder!;
  if (trainFolder && testFolder && trainFolder.classes.join('\n') !== testFolder.classes.join('\n')) {
    throw new Error(`the training folder ${trainRoot} has classes [${trainFolder.classes.join(', ')}] but the test folder ${testRoot} has [${testFolder.classes.join(', ')}]`);
  }
  let trainSet: Dataset | undefined = trainFolder;
  let testSource: Dataset | undefined = testFolder ?? (evaluateOnTrain ? trainFolder : undefined);
  let testName = testFolder ? testRoot! : `${trainRoot} (no test split)`;
  if (validation && trainFolder) {
    const held = stratifiedSplit(trainFolder.samples.map((sample) => sample.label), spec.valSplit!, spec.validationSeed ?? 0);
    trainSet = subset(trainFolder, held.train);
    testSource = need.test ? subset(trainFolder, held.validation) : undefined;
    testName = `${trainRoot} (held out: ${Math.round(spec.valSplit! * 100)}% of each class, seed ${spec.validationSeed ?? 0})`;
  }
  const train = need.train && trainSet ? spreadOver(trainSet, spec.limitTrain) : undefined;
  const test = testSource ? spreadOver(testSource, spec.limitTest) : undefined;
  if (spec.limitTest !== undefined && need.test !== false && !test) {
    throw new Error(`--limit-test ${spec.limitTest}: ${spec.data} has no test split (add train/ and test/ or val/ folders inside it, or --test-data DIR)`);
  }
  const skipped = [...(trainFolder?.skipped ?? []), ...(testFolder?.skipped ?? [])];
  const parts = [train && `${train.length} training images from ${trainRoot}`, test && `${test.length} test images from ${testName}`];
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

/** Augmentation beyond the default crops and flips (timm's train-script options). */
export interface AugmentRecipe {
  /** torchvision's RandAugment or TrivialAugment Wide, after the crop and flip. */
  autoAugment?: 'randaugment' | 'trivialaugment';
  /** RandAugment: ops per image (default 2) and the magnitude bin of 31 (default 9). */
  randAugmentOps?: number;
  randAugmentMagnitude?: number;
  /** ColorJitter with this brightness, contrast and saturation (timm's --color-jitter). */
  colorJitter?: number;
  /** RandomErasing probability on the normalised image (timm's --reprob). */
  randomErasing?: number;
}

/**
 * Training augmentation: the built-in sets get pad-4 random crops (and horizontal flips,
 * except MNIST's digits); folders random resized crops (scale 0.35 to 1) and flips;
 * aligned crops are resized straight to size and only flipped. Then the recipe's
 * RandAugment / TrivialAugment and ColorJitter.
 */
export function trainTransform(data: PreparedData, augment: boolean, recipe: AugmentRecipe = {}): Transform | undefined {
  const [, size] = data.inputShape;
  const steps: Transform[] = [];
  if (data.kind === 'image-folder') {
    if (!augment) steps.push(evalTransform(data)!);
    else if (data.aligned) steps.push(evalTransform(data)!, randomHorizontalFlip());
    else steps.push(randomResizedCrop(size, { scale: [0.35, 1] }), randomHorizontalFlip());
  } else if (augment) {
    steps.push(randomCrop(size, { padding: 4 }));
    if (builtins[data.kind].flips) steps.push(randomHorizontalFlip());
  }
  if (recipe.autoAugment === 'randaugment') steps.push(randAugment({ numOps: recipe.randAugmentOps, magnitude: recipe.randAugmentMagnitude }));
  else if (recipe.autoAugment === 'trivialaugment') steps.push(trivialAugmentWide());
  else if (recipe.autoAugment !== undefined) throw new Error(`unknown auto-augment policy '${String(recipe.autoAugment)}'; expected randaugment or trivialaugment`);
  if (recipe.colorJitter) steps.push(colorJitter({ brightness: recipe.colorJitter, contrast: recipe.colorJitter, saturation: recipe.colorJitter }));
  return steps.length === 0 ? undefined : steps.length === 1 ? steps[0] : compose(steps);
}

/** RandomErasing on the normalised pixels, when the recipe asks for it. */
export function trainTensorTransform(recipe: AugmentRecipe = {}): TensorTransform | undefined {
  return recipe.randomErasing ? randomErasing({ p: recipe.randomErasing }) : undefined;
}

/** Evaluation: the built-in sets as they are; folders resized to size / FOLDER_CROP_PCT (aligned crops: to size) and centre-cropped. */
export function evalTransform(data: PreparedData): Transform | undefined {
  const [, size] = data.inputShape;
  if (data.kind !== 'image-folder') return undefined;
  return compose([resize(data.aligned ? size : Math.floor(size / FOLDER_CROP_PCT)), centerCrop(size)]);
}

/** Per-channel mean and std: a built-in set's own, else ImageNet's (RGB) or 0.5 (grey). */
export function normalizationFor(data: PreparedData): { mean: number[]; std: number[] } {
  if (data.kind !== 'image-folder') {
    const { mean, std } = builtins[data.kind].stats;
    return { mean: [...mean], std: [...std] };
  }
  return data.inputShape[0] === 3 ? { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } : { mean: [0.5], std: [0.5] };
}

export interface LoaderSettings {
  batchSize: number;
  seed: number;
  augment: boolean;
  /** Augmentation beyond crops and flips. */
  recipe?: AugmentRecipe;
  /** Batches prepared ahead while the model trains. */
  prefetch: number;
  normalization: { mean: number[]; std: number[] };
  /** A data-parallel rank's share of the data. */
  shard?: Shard;
}

export function trainLoader(data: PreparedData, settings: LoaderSettings): DataLoader {
  if (!data.train) throw new Error('no training data was loaded');
  return new DataLoader(data.train, {
    batchSize: Math.min(settings.batchSize, data.train.length),
    shuffle: true,
    seed: settings.seed,
    dropLast: true,
    transform: trainTransform(data, settings.augment, settings.recipe),
    tensorTransform: trainTensorTransform(settings.recipe),
    normalize: settings.normalization,
    prefetch: settings.prefetch,
    shard: settings.shard,
  });
}

export function testLoader(data: PreparedData, settings: Omit<LoaderSettings, 'augment' | 'seed' | 'recipe'>): DataLoader {
  if (!data.test) throw new Error('no test data was loaded');
  return new DataLoader(data.test, {
    batchSize: settings.batchSize,
    shuffle: false,
    dropLast: false,
    transform: evalTransform(data),
    normalize: settings.normalization,
    prefetch: settings.prefetch,
    shard: settings.shard,
  });
}

/** "3 unreadable images were skipped: a.jpg (reason); ..." or undefined when none were. */
export function describeSkipped(skipped: SkippedFile[]): string | undefined {
  if (skipped.length === 0) return undefined;
  const shown = skipped.slice(0, 3).map((s) => `${s.path} (${s.reason.split('\n')[0]})`).join('; ');
  return `${skipped.length} unreadable image${skipped.length === 1 ? ' was' : 's were'} skipped: ${shown}${skipped.length > 3 ? `; and ${skipped.length - 3} more` : ''} (--strict makes this an error)`;
}
