// Evaluation preprocessing as torchvision's presets do it: resize the short side to
// size / cropPct (antialiased bilinear, as PIL), centre-crop size x size, scale to
// [0, 1], normalise per channel. Decoding is sharp's; the geometry is the data module's.
import { existsSync } from 'node:fs';
import { decodeImage } from '../data/image-folder.js';
import { imagesToTensor, normalize } from '../data/normalize.js';
import { Random } from '../data/random.js';
import { centerCrop, compose, resize } from '../data/transforms.js';
import type { Tensor } from '../torch/tensor.js';

export interface PreprocessOptions {
  /** Side of the square crop the model sees. */
  size: number;
  /** Fraction of the resized image kept by the centre crop (0.875: 256 -> 224). */
  cropPct: number;
  mean: readonly number[];
  std: readonly number[];
  /** 3 for RGB, 1 for greyscale models. */
  channels: number;
}

/** Decodes `files` (paths, or encoded images in memory) and returns one [files, channels, size, size] float32 tensor. */
export async function preprocessImages(files: readonly (string | Uint8Array)[], options: PreprocessOptions): Promise<Tensor> {
  const { size, cropPct, channels } = options;
  if (channels !== 1 && channels !== 3) throw new Error(`images can feed 1- or 3-channel models, this one takes ${channels}`);
  const transform = compose([resize(Math.floor(size / cropPct)), centerCrop(size)]);
  const random = new Random(0); // the evaluation transforms draw nothing
  const images = [];
  for (const file of files) {
    if (typeof file === 'string' && !existsSync(file)) throw new Error(`image '${file}' does not exist`);
    images.push(transform(await decodeImage(file, channels), random));
  }
  return imagesToTensor(images, { normalize: normalize(options.mean, options.std) });
}
