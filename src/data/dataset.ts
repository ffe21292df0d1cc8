// The dataset contract the loader consumes: indexed samples with integer labels.
import type { Image } from './image.js';

export interface Sample {
  image: Image;
  label: number;
}

export interface Dataset {
  readonly length: number;
  /** Class names; a label is an index into this list. */
  readonly classes: string[];
  readonly channels: number;
  /** In-memory datasets answer synchronously, decoding ones with a Promise. */
  get(index: number): Promise<Sample> | Sample;
}

export function checkIndex(index: number, length: number, where: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new Error(`${where}: index ${index} is out of range for ${length} samples`);
  }
}

/** The samples of `dataset` at `indices`, in that order (a validation split, a debug slice). */
export function subset(dataset: Dataset, indices: readonly number[]): Dataset {
  for (const index of indices) checkIndex(index, dataset.length, 'subset');
  const chosen = indices.slice();
  return {
    length: chosen.length,
    classes: dataset.classes,
    channels: dataset.channels,
    get(index: number) {
      checkIndex(index, chosen.length, 'subset.get');
      return dataset.get(chosen[index]);
    },
  };
}
