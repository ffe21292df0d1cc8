// Evaluation preprocessing as torchvision's presets do it: resize the short side to
// size / cropPct (antialiased bilinear, as PIL), centre-crop size x size, scale to
// [0, 1], normalise per channel. Decoding is sharp's; the geometry is the data module's.
import { existsSync } from 'node:fs';
import { decodeImage } from '../data/image-folder.js';
import { imagesToTensor, normalize } from '../data/normalize.js';
import { Random } from '../data/random.js';
import { centerCrop, compose, resize } from '../data/transforms.js';
import type { Image } from '../data/image.js';
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

/** Decodes one image (a path, or an encoded image in memory) and resizes and crops it for the model (HWC, not yet normalised). */
export async function preprocessImage(file: string | Uint8Array, options: PreprocessOptions): Promise<Image> {
  const { size, cropPct, channels } = options;
  if (channels !== 1 && channels !== 3) throw new Error(`images can feed 1- or 3-channel models, this one takes ${channels}`);
  if (typeof file === 'string' && !existsSync(file)) throw new Error(`image '${file}' does not exist`);
  const transform = compose([resize(Math.floor(size / cropPct)), centerCrop(size)]);
  return transform(await decodeImage(file, channels), new Random(0)); // the evaluation transforms draw nothing
}

/** Preprocessed images as one normalised [images, channels, size, size] float32 tensor. */
export function imagesBatch(images: readonly Image[], options: PreprocessOptions): Tensor {
  return imagesToTensor(images, { normalize: normalize(options.mean, options.std) });
}

/** Decodes `files` (paths, or encoded images in memory) and returns one [files, channels, size, size] float32 tensor. */
export async function preprocessImages(files: readonly (string | Uint8Array)[], options: PreprocessOptions): Promise<Tensor> {
  if (options.channels !== 1 && options.channels !== 3) throw new Error(`images can feed 1- or 3-channel models, this one takes ${options.channels}`);
  const images: Image[] = [];
  for (const file of files) images.push(await preprocessImage(file, options));
  return imagesBatch(images, options);
}
