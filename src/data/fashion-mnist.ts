// Fashion-MNIST from Debian's `dataset-fashion-mnist` package (gzipped IDX files).
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readIdxFile, type IdxArray } from './idx.js';
import { InMemoryDataset } from './in-memory.js';

export const fashionMnistClasses: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** Per-channel mean and standard deviation of the training images on the 0..1 scale. */
export const fashionMnistStats = { mean: [0.286], std: [0.353] } as const;

export type FashionMnistSplit = 'train' | 'test';

const files: Record<FashionMnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};
const allFiles = [files.train.images, files.train.labels, files.test.images, files.test.labels];
const PACKAGE = 'dataset-fashion-mnist';
const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** `dir/name.gz`, else `dir/name` (an unpacked copy), else undefined. */
function locate(dir: string, name: string): string | undefined {
  for (const candidate of [join(dir, `${name}.gz`), join(dir, name)]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

function holdsAllFiles(dir: string): boolean {
  return allFiles.every((name) => locate(dir, name) !== undefined);
}

/** Where the Debian package put its files (`dpkg -L`), then the package's usual folder. */
export function fashionMnistCandidateDirs(): string[] {
  const dirs: string[] = [];
  try {
    const listing = execFileSync('dpkg', ['-L', PACKAGE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of listing.split('\n')) {
      if (line.endsWith(`/${files.train.images}.gz`)) dirs.push(dirname(line.trim()));
    }
  } catch {
    // No dpkg, or the package is not installed: fall through to the usual folder.
  }
  if (!dirs.includes(DEBIAN_DIR)) dirs.push(DEBIAN_DIR);
  return dirs;
}

/**
 * The folder holding Fashion-MNIST's four IDX files: `dataDir` when given, else the
 * first of `candidates` that holds them all.
 */
export function findFashionMnistDir(dataDir?: string, candidates: string[] = fashionMnistCandidateDirs()): string {
  if (dataDir !== undefined) {
    if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new Error(`Fashion-MNIST: data folder ${dataDir} does not exist`);
    const missing = allFiles.filter((name) => locate(dataDir, name) === undefined);
    if (missing.length > 0) {
      throw new Error(`Fashion-MNIST: ${dataDir} lacks ${missing.map((name) => `${name}.gz`).join(', ')} (gzipped or not)`);
    }
    return dataDir;
  }
  const found = candidates.find(holdsAllFiles);
  if (found) return found;
  throw new Error(
    `Fashion-MNIST not found (looked in ${candidates.length > 0 ? candidates.join(', ') : 'no folders'}). ` +
      `Install Debian's package with \`sudo apt-get install ${PACKAGE}\`, or pass --data-dir <folder> ` +
      `holding ${allFiles.map((name) => `${name}.gz`).join(', ')}.`,
  );
}

export interface FashionMnistOptions {
  split: FashionMnistSplit;
  dataDir?: string;
}

export class FashionMnist extends InMemoryDataset {
  readonly split: FashionMnistSplit;
  readonly dir: string;

  constructor(split: FashionMnistSplit, dir: string, images: IdxArray, labels: IdxArray) {
    super({ images: images.data as Uint8Array, labels: labels.data as Uint8Array, height: images.shape[1], width: images.shape[2], channels: 1, classes: [...fashionMnistClasses] });
    this.split = split;
    this.dir = dir;
  }
}

/** Reads one split into memory: 1 channel, 28x28, uint8 pixels. */
export function loadFashionMnist(options: FashionMnistOptions): FashionMnist {
  const { split } = options;
  if (split !== 'train' && split !== 'test') throw new Error(`Fashion-MNIST: split must be 'train' or 'test', got '${String(split)}'`);
  const dir = findFashionMnistDir(options.dataDir);
  const imagesPath = locate(dir, files[split].images)!;
  const labelsPath = locate(dir, files[split].labels)!;
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new Error(`${imagesPath}: expected uint8 images of shape [N, height, width], got ${images.dtype} [${images.shape.join(', ')}]`);
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new Error(`${labelsPath}: expected uint8 labels of shape [N], got ${labels.dtype} [${labels.shape.join(', ')}]`);
  }
  if (images.shape[0] !== labels.shape[0]) {
    throw new Error(`Fashion-MNIST ${split}: ${images.shape[0]} images but ${labels.shape[0]} labels (${imagesPath}, ${labelsPath})`);
  }
  return new FashionMnist(split, dir, images, labels);
}
