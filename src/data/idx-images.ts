// A labelled image set stored as MNIST's four IDX files (train/t10k images and labels,
// gzipped or not): MNIST and Fashion-MNIST share the layout and the file names.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readIdxFile, type IdxArray } from './idx.js';
import { InMemoryDataset } from './in-memory.js';

export type IdxSplit = 'train' | 'test';

export const idxImageFiles: Record<IdxSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};
export const allIdxImageFiles = [idxImageFiles.train.images, idxImageFiles.train.labels, idxImageFiles.test.images, idxImageFiles.test.labels];

/** `dir/name.gz`, else `dir/name` (an unpacked copy), else undefined. */
export function locateIdxFile(dir: string, name: string): string | undefined {
  for (const candidate of [join(dir, `${name}.gz`), join(dir, name)]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

export function holdsIdxImageSet(dir: string): boolean {
  return allIdxImageFiles.every((name) => locateIdxFile(dir, name) !== undefined);
}

/** Checks that `dir` holds the four files; `name` ('MNIST') heads the error. */
export function checkIdxImageDir(dir: string, name: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${name}: data folder ${dir} does not exist`);
  const missing = allIdxImageFiles.filter((file) => locateIdxFile(dir, file) === undefined);
  if (missing.length > 0) throw new Error(`${name}: ${dir} lacks ${missing.map((file) => `${file}.gz`).join(', ')} (gzipped or not)`);
}

export class IdxImageDataset extends InMemoryDataset {
  readonly split: IdxSplit;
  readonly dir: string;

  constructor(split: IdxSplit, dir: string, images: IdxArray, labels: IdxArray, classes: readonly string[]) {
    super({ images: images.data as Uint8Array, labels: labels.data as Uint8Array, height: images.shape[1], width: images.shape[2], channels: 1, classes: [...classes] });
    this.split = split;
    this.dir = dir;
  }
}

/** Reads one split of the set in `dir` into memory: 1 channel, uint8 pixels. */
export function loadIdxImageSplit(dir: string, split: IdxSplit, name: string, classes: readonly string[]): IdxImageDataset {
  if (split !== 'train' && split !== 'test') throw new Error(`${name}: split must be 'train' or 'test', got '${String(split)}'`);
  checkIdxImageDir(dir, name);
  const imagesPath = locateIdxFile(dir, idxImageFiles[split].images)!;
  const labelsPath = locateIdxFile(dir, idxImageFiles[split].labels)!;
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new Error(`${imagesPath}: expected uint8 images of shape [N, height, width], got ${images.dtype} [${images.shape.join(', ')}]`);
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new Error(`${labelsPath}: expected uint8 labels of shape [N], got ${labels.dtype} [${labels.shape.join(', ')}]`);
  }
  if (images.shape[0] !== labels.shape[0]) {
    throw new Error(`${name} ${split}: ${images.shape[0]} images but ${labels.shape[0]} labels (${imagesPath}, ${labelsPath})`);
  }
  return new IdxImageDataset(split, dir, images, labels, classes);
}
