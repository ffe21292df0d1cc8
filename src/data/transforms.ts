// Per-sample transforms and augmentation, following torchvision's definitions. A
// transform takes an image and the sample's random stream and returns a new image (or
// the same one when nothing changes); it never modifies its input.
import { crop, flipHorizontal, resample, roundHalfEven } from './geometry.js';
import type { Image } from './image.js';
import type { Random } from './random.js';

export type Transform = (image: Image, random: Random) => Image;
/** A side length for both axes, or [height, width]. */
export type Size = number | readonly [number, number];

function sizeOf(size: Size, where: string): [number, number] {
  const [height, width] = typeof size === 'number' ? [size, size] : size;
  for (const value of [height, width]) {
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${where}: size must be a positive integer or [height, width] of them, got ${JSON.stringify(size)}`);
  }
  return [height, width];
}

/** Applies `transforms` in order, all drawing from the same sample stream. */
export function compose(transforms: readonly Transform[]): Transform {
  const list = transforms.slice();
  return (image, random) => list.reduce((current, transform) => transform(current, random), image);
}

export interface RandomCropOptions {
  /** Pixels of `fill` added on every side before cropping (CIFAR and Fashion-MNIST use 4). */
  padding?: number;
  fill?: number;
}

/** A uniformly placed window of `size` from the image padded by `padding`. */
export function randomCrop(size: Size, options: RandomCropOptions = {}): Transform {
  const [height, width] = sizeOf(size, 'randomCrop');
  const padding = options.padding ?? 0;
  const fill = options.fill ?? 0;
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`randomCrop: padding must be a non-negative integer, got ${padding}`);
  return (image, random) => {
    const paddedHeight = image.height + 2 * padding;
    const paddedWidth = image.width + 2 * padding;
    if (height > paddedHeight || width > paddedWidth) {
      throw new Error(`randomCrop: crop ${height}x${width} is larger than the padded image ${paddedHeight}x${paddedWidth}`);
    }
    const top = random.int(paddedHeight - height + 1) - padding;
    const left = random.int(paddedWidth - width + 1) - padding;
    return crop(image, top, left, height, width, fill);
  };
}

/** Mirrors the image left to right with probability `p` (one draw either way). */
export function randomHorizontalFlip(p = 0.5): Transform {
  if (!(p >= 0 && p <= 1)) throw new Error(`randomHorizontalFlip: p must be in [0, 1], got ${p}`);
  return (image, random) => (random.next() < p ? flipHorizontal(image) : image);
}

/** The central window of `size`; a window larger than the image is padded with zeros. */
export function centerCrop(size: Size): Transform {
  const [height, width] = sizeOf(size, 'centerCrop');
  const offset = (inSize: number, outSize: number) =>
    outSize > inSize ? -Math.floor((outSize - inSize) / 2) : roundHalfEven((inSize - outSize) / 2);
  return (image) => {
    if (image.height === height && image.width === width) return image;
    return crop(image, offset(image.height, height), offset(image.width, width), height, width);
  };
}

/**
 * Bilinear resize (antialiased when shrinking). A number sets the shorter side and
 * keeps the aspect ratio, as torchvision's Resize(int); [height, width] sets both.
 */
export function resize(size: Size): Transform {
  const checked = sizeOf(size, 'resize');
  const fixed = typeof size === 'number' ? undefined : checked;
  return (image) => {
    let [height, width] = fixed ?? [0, 0];
    if (!fixed) {
      const short = size as number;
      if (image.height <= image.width) [height, width] = [short, Math.floor((short * image.width) / image.height)];
      else [height, width] = [Math.floor((short * image.height) / image.width), short];
    }
    if (height === image.height && width === image.width) return image;
    return resample(image, 0, 0, image.height, image.width, height, width);
  };
}

export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image's. */
  scale?: readonly [number, number];
  /** Range of the crop's width / height, sampled log-uniformly. */
  ratio?: readonly [number, number];
}

/** torchvision's RandomResizedCrop (Inception-style): a random area and aspect, resized to `size`. */
export function randomResizedCrop(size: Size, options: RandomResizedCropOptions = {}): Transform {
  const [outHeight, outWidth] = sizeOf(size, 'randomResizedCrop');
  const [scaleLow, scaleHigh] = options.scale ?? [0.08, 1];
  const [ratioLow, ratioHigh] = options.ratio ?? [3 / 4, 4 / 3];
  if (!(scaleLow > 0 && scaleLow <= scaleHigh && scaleHigh <= 1)) throw new Error(`randomResizedCrop: scale must satisfy 0 < low <= high <= 1, got [${scaleLow}, ${scaleHigh}]`);
  if (!(ratioLow > 0 && ratioLow <= ratioHigh)) throw new Error(`randomResizedCrop: ratio must satisfy 0 < low <= high, got [${ratioLow}, ${ratioHigh}]`);
  const logLow = Math.log(ratioLow);
  const logHigh = Math.log(ratioHigh);
  return (image, random) => {
    const { height, width } = image;
    const area = height * width;
    for (let attempt = 0; attempt < 10; attempt++) {
      const targetArea = area * random.uniform(scaleLow, scaleHigh);
      const aspect = Math.exp(random.uniform(logLow, logHigh));
      const w = roundHalfEven(Math.sqrt(targetArea * aspect));
      const h = roundHalfEven(Math.sqrt(targetArea / aspect));
      if (w > 0 && h > 0 && w <= width && h <= height) {
        const top = random.int(height - h + 1);
        const left = random.int(width - w + 1);
        return resample(image, top, left, h, w, outHeight, outWidth);
      }
    }
    // Fallback after ten misses: the largest central window within the ratio range.
    const inRatio = width / height;
    let w = width;
    let h = height;
    if (inRatio < ratioLow) h = roundHalfEven(w / ratioLow);
    else if (inRatio > ratioHigh) w = roundHalfEven(h * ratioHigh);
    return resample(image, Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w, outHeight, outWidth);
  };
}
