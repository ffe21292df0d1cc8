// Fashion-MNIST from Debian's `dataset-fashion-mnist` package (gzipped IDX files).
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { allIdxImageFiles, checkIdxImageDir, holdsIdxImageSet, idxImageFiles, IdxImageDataset, loadIdxImageSplit, type IdxSplit } from './idx-images.js';

export const fashionMnistClasses: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** Per-channel mean and standard deviation of the training images on the 0..1 scale. */
export const fashionMnistStats = { mean: [0.286], std: [0.353] } as const;

export type FashionMnistSplit = IdxSplit;

const PACKAGE = 'dataset-fashion-mnist';
const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** Where the Debian package put its files (`dpkg -L`), then the package's usual folder. */
export function fashionMnistCandidateDirs(): string[] {
  const dirs: string[] = [];
  try {
    const listing = execFileSync('dpkg', ['-L', PACKAGE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of listing.split('\n')) {
      if (line.endsWith(`/${idxImageFiles.train.images}.gz`)) dirs.push(dirname(line.trim()));
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
    checkIdxImageDir(dataDir, 'Fashion-MNIST');
    return dataDir;
  }
  const found = candidates.find(holdsIdxImageSet);
  if (found) return found;
  throw new Error(
    `Fashion-MNIST not found (looked in ${candidates.length > 0 ? candidates.join(', ') : 'no folders'}). ` +
      `Install Debian's package with \`sudo apt-get install ${PACKAGE}\`, or pass --data-dir <folder> ` +
      `holding ${allIdxImageFiles.map((name) => `${name}.gz`).join(', ')}.`,
  );
}

export interface FashionMnistOptions {
  split: FashionMnistSplit;
  dataDir?: string;
}

/** One split of Fashion-MNIST in memory. */
export const FashionMnist = IdxImageDataset;
export type FashionMnist = IdxImageDataset;

/** Reads one split into memory: 1 channel, 28x28, uint8 pixels. */
export function loadFashionMnist(options: FashionMnistOptions): FashionMnist {
  const { split } = options;
  if (split !== 'train' && split !== 'test') throw new Error(`Fashion-MNIST: split must be 'train' or 'test', got '${String(split)}'`);
  const dir = findFashionMnistDir(options.dataDir);
  return loadIdxImageSplit(dir, split, 'Fashion-MNIST', fashionMnistClasses);
}
