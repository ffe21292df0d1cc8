// Turning HWC images into the NCHW float32 input a network takes: uint8 pixels are
// scaled to 0..1 (float pixels are taken as already on that scale), then each channel
// becomes (x - mean) / std.
import { fromBytes } from '../torch/creation.js';
import type { Tensor } from '../torch/tensor.js';
import { checkImage, describeSize, type Image } from './image.js';

export interface Normalization {
  /** One value per channel, or one for all channels. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The ImageNet statistics torchvision's pretrained weights expect. */
export const imagenetStats: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** A checked per-channel normalisation, applied when a batch tensor is built. */
export function normalize(mean: readonly number[], std: readonly number[]): Normalization {
  checkNormalization({ mean, std });
  return { mean: mean.slice(), std: std.slice() };
}

function checkNormalization({ mean, std }: Normalization): void {
  if (mean.length === 0 || mean.length !== std.length) {
    throw new Error(`normalize: mean and std need the same, non-zero number of values, got ${mean.length} and ${std.length}`);
  }
  if (!mean.every(Number.isFinite)) throw new Error(`normalize: mean values must be finite, got [${mean.join(', ')}]`);
  if (!std.every((s) => Number.isFinite(s) && s > 0)) throw new Error(`normalize: std values must be positive, got [${std.join(', ')}]`);
}

/** Per channel, the a and b of x * a + b, folding the 1/255 scale into both. */
function affine(image: Image, normalization: Normalization | undefined): { scales: Float64Array; shifts: Float64Array } {
  const { channels } = image;
  const base = image.data instanceof Uint8Array ? 1 / 255 : 1;
  const scales = new Float64Array(channels).fill(base);
  const shifts = new Float64Array(channels);
  if (!normalization) return { scales, shifts };
  const { mean, std } = normalization;
  if (mean.length !== 1 && mean.length !== channels) {
    throw new Error(`normalize: ${mean.length} mean/std values for an image with ${channels} channels (give 1 or ${channels})`);
  }
  for (let c = 0; c < channels; c++) {
    const m = mean.length === 1 ? mean[0] : mean[c];
    const s = std.length === 1 ? std[0] : std[c];
    scales[c] = base / s;
    shifts[c] = -m / s;
  }
  return { scales, shifts };
}

/** Writes `image` as C planes of H x W floats into `out` from `offset`. */
export function writeChw(image: Image, out: Float32Array, offset: number, normalization?: Normalization): void {
  const { channels, height, width, data } = image;
  const plane = height * width;
  const { scales, shifts } = affine(image, normalization);
  for (let c = 0; c < channels; c++) {
    const a = scales[c];
    const b = shifts[c];
    const to = offset + c * plane;
    for (let p = 0, from = c; p < plane; p++, from += channels) out[to + p] = data[from] * a + b;
  }
}

/** Same-sized images as one NCHW float32 array. */
export interface StackedImages {
  data: Float32Array;
  shape: [number, number, number, number];
}

/**
 * Packs same-sized images into NCHW floats; `nameOf(i)` says which sample image i is
 * in error messages.
 */
export function stackImages(images: readonly Image[], normalization?: Normalization, nameOf: (i: number) => string = (i) => `image ${i}`): StackedImages {
  if (images.length === 0) throw new Error('stackImages: no images');
  if (normalization) checkNormalization(normalization);
  const first = images[0];
  const size = first.channels * first.height * first.width;
  const data = new Float32Array(images.length * size);
  images.forEach((image, i) => {
    checkImage(image, nameOf(i));
    if (image.channels !== first.channels || image.height !== first.height || image.width !== first.width) {
      throw new Error(`images in a batch must share one size: ${nameOf(i)} is ${describeSize(image)} but ${nameOf(0)} is ${describeSize(first)} (CxHxW); add a resize or crop transform`);
    }
    writeChw(image, data, i * size, normalization);
  });
  return { data, shape: [images.length, first.channels, first.height, first.width] };
}

export interface ImagesToTensorOptions {
  normalize?: Normalization;
  device?: string;
}

/** Stacks same-sized images into one [N, C, H, W] float32 tensor (the caller owns it). */
export function imagesToTensor(images: readonly Image[], options: ImagesToTensorOptions = {}): Tensor {
  const { data, shape } = stackImages(images, options.normalize);
  return fromBytes(new Uint8Array(data.buffer), 'float32', shape, options.device);
}
