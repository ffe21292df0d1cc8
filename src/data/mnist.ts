// MNIST (LeCun et al.) from its four IDX files, as distributed (gzipped or not).
import { loadIdxImageSplit, type IdxImageDataset, type IdxSplit } from './idx-images.js';

export const mnistClasses: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Mean and standard deviation of the training images on the 0..1 scale (the values torchvision's examples use). */
export const mnistStats = { mean: [0.1307], std: [0.3081] } as const;

export interface MnistOptions {
  split: IdxSplit;
  /** The folder holding train-images-idx3-ubyte(.gz) and the other three files. */
  dataDir: string;
}

/** Reads one split into memory: 1 channel, 28x28, uint8 pixels. */
export function loadMnist(options: MnistOptions): IdxImageDataset {
  if (!options.dataDir) throw new Error('MNIST: give the folder of its IDX files (--data-dir DIR)');
  return loadIdxImageSplit(options.dataDir, options.split, 'MNIST', mnistClasses);
}
