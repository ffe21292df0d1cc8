// RandAugment (Cubuk et al. 2019) and TrivialAugment Wide (Müller and Hutter 2021) with
// torchvision's op set, magnitude bins and draws (transforms/autoaugment.py): RandAugment
// applies `numOps` ops drawn uniformly at one fixed magnitude bin; TrivialAugment one op
// at a uniformly drawn bin. Signed ops flip the sign with probability 1/2.
import { roundHalfEven } from '../geometry.js';
import type { Image } from '../image.js';
import type { Random } from '../random.js';
import type { Transform } from '../transforms.js';
import { adjustBrightness, adjustContrast, adjustSaturation, adjustSharpness, affine, autocontrast, equalize, posterize, rotate, solarize } from './pixel-ops.js';

export const augmentOpNames = [
  'Identity', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate', 'Brightness', 'Color',
  'Contrast', 'Sharpness', 'Posterize', 'Solarize', 'AutoContrast', 'Equalize',
] as const;
export type AugmentOpName = (typeof augmentOpNames)[number];

/** An op's magnitude per bin (empty: the op takes none) and whether it is applied with a random sign. */
export interface OpMagnitudes {
  magnitudes: number[];
  signed: boolean;
}
export type AugmentationSpace = Record<AugmentOpName, OpMagnitudes>;

/** torch.linspace(start, end, steps) in float32, as its CPU kernel fills it (float32 arithmetic, from both ends). */
function linspace(start: number, end: number, steps: number): number[] {
  const f = Math.fround;
  const [a, b] = [f(start), f(end)];
  const step = f(f(b - a) / (steps - 1));
  const half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) => (i < half ? f(a + f(step * i)) : f(b - f(step * (steps - i - 1)))));
}

/** 8 - round(arange(bins) / ((bins - 1) / levels)): the bits Posterize keeps per bin. */
function posterizeBits(bins: number, levels: number): number[] {
  const divisor = Math.fround((bins - 1) / levels);
  return Array.from({ length: bins }, (_, i) => {
    return 8 - roundHalfEven(Math.fround(i / divisor));
  });
}

const none: OpMagnitudes = { magnitudes: [], signed: false };
const signed = (magnitudes: number[]): OpMagnitudes => ({ magnitudes, signed: true });
const unsigned = (magnitudes: number[]): OpMagnitudes => ({ magnitudes, signed: false });

/** RandAugment's magnitudes for `bins` bins on an image of [height, width]. */
export function randAugmentSpace(bins: number, [height, width]: [number, number]): AugmentationSpace {
  return {
    Identity: none,
    ShearX: signed(linspace(0, 0.3, bins)),
    ShearY: signed(linspace(0, 0.3, bins)),
    TranslateX: signed(linspace(0, (150 / 331) * width, bins)),
    TranslateY: signed(linspace(0, (150 / 331) * height, bins)),
    Rotate: signed(linspace(0, 30, bins)),
    Brightness: signed(linspace(0, 0.9, bins)),
    Color: signed(linspace(0, 0.9, bins)),
    Contrast: signed(linspace(0, 0.9, bins)),
    Sharpness: signed(linspace(0, 0.9, bins)),
    Posterize: unsigned(posterizeBits(bins, 4)),
    Solarize: unsigned(linspace(255, 0, bins)),
    AutoContrast: none,
    Equalize: none,
  };
}

/** TrivialAugment Wide's magnitudes for `bins` bins (independent of the image size). */
export function trivialAugmentSpace(bins: number): AugmentationSpace {
  return {
    Identity: none,
    ShearX: signed(linspace(0, 0.99, bins)),
    ShearY: signed(linspace(0, 0.99, bins)),
    TranslateX: signed(linspace(0, 32, bins)),
    TranslateY: signed(linspace(0, 32, bins)),
    Rotate: signed(linspace(0, 135, bins)),
    Brightness: signed(linspace(0, 0.99, bins)),
    Color: signed(linspace(0, 0.99, bins)),
    Contrast: signed(linspace(0, 0.99, bins)),
    Sharpness: signed(linspace(0, 0.99, bins)),
    Posterize: unsigned(posterizeBits(bins, 6)),
    Solarize: unsigned(linspace(255, 0, bins)),
    AutoContrast: none,
    Equalize: none,
  };
}

const degrees = (radians: number) => (radians * 180) / Math.PI;

/** One op at one (signed) magnitude, as torchvision's `_apply_op`. */
export function applyAugmentOp(image: Image, op: AugmentOpName, magnitude: number, fill: number | number[] = 0): Image {
  switch (op) {
    case 'Identity':
      return image;
    case 'ShearX':
      // Sheared about the top-left corner, with the angle arctan(magnitude).
      return affine(image, { shear: [degrees(Math.atan(magnitude)), 0], center: [0, 0], fill });
    case 'ShearY':
      return affine(image, { shear: [0, degrees(Math.atan(magnitude))], center: [0, 0], fill });
    case 'TranslateX':
      return affine(image, { translate: [Math.trunc(magnitude), 0], fill });
    case 'TranslateY':
      return affine(image, { translate: [0, Math.trunc(magnitude)], fill });
    case 'Rotate':
      return rotate(image, magnitude, fill);
    case 'Brightness':
      return adjustBrightness(image, 1 + magnitude);
    case 'Color':
      return adjustSaturation(image, 1 + magnitude);
    case 'Contrast':
      return adjustContrast(image, 1 + magnitude);
    case 'Sharpness':
      return adjustSharpness(image, 1 + magnitude);
    case 'Posterize':
      return posterize(image, Math.trunc(magnitude));
    case 'Solarize':
      return solarize(image, magnitude);
    case 'AutoContrast':
      return autocontrast(image);
    case 'Equalize':
      return equalize(image);
    default:
      throw new Error(`unknown augmentation op '${String(op)}'; expected one of ${augmentOpNames.join(', ')}`);
  }
}

/** Draws one op from `space` at bin `bin` (or a random bin when undefined) and applies it. */
function drawAndApply(image: Image, space: AugmentationSpace, random: Random, bin: number | undefined, fill: number | number[]): Image {
  const op = augmentOpNames[random.int(augmentOpNames.length)];
  const { magnitudes, signed: isSigned } = space[op];
  let magnitude = magnitudes.length === 0 ? 0 : magnitudes[bin ?? random.int(magnitudes.length)];
  if (isSigned && random.int(2) === 1) magnitude = -magnitude;
  return applyAugmentOp(image, op, magnitude, fill);
}

function checkBins(where: string, bins: number): void {
  if (!Number.isInteger(bins) || bins < 2) throw new Error(`${where}: numMagnitudeBins must be an integer of at least 2, got ${bins}`);
}

export interface RandAugmentOptions {
  /** Ops applied one after another (default 2). */
  numOps?: number;
  /** The magnitude bin every op uses, 0 .. numMagnitudeBins - 1 (default 9). */
  magnitude?: number;
  /** Default 31. */
  numMagnitudeBins?: number;
  /** Value of pixels shifted in from outside the image (default 0). */
  fill?: number | number[];
}

export function randAugment(options: RandAugmentOptions = {}): Transform {
  const { numOps = 2, magnitude = 9, numMagnitudeBins = 31, fill = 0 } = options;
  checkBins('randAugment', numMagnitudeBins);
  if (!Number.isInteger(numOps) || numOps < 0) throw new Error(`randAugment: numOps must be a non-negative integer, got ${numOps}`);
  if (!Number.isInteger(magnitude) || magnitude < 0 || magnitude >= numMagnitudeBins) {
    throw new Error(`randAugment: magnitude must be an integer bin in [0, ${numMagnitudeBins - 1}], got ${magnitude}`);
  }
  // The table depends on the image size (the translations): keep the last one.
  let cached: { height: number; width: number; space: AugmentationSpace } | undefined;
  return (image, random) => {
    if (cached?.height !== image.height || cached.width !== image.width) {
      cached = { height: image.height, width: image.width, space: randAugmentSpace(numMagnitudeBins, [image.height, image.width]) };
    }
    const { space } = cached;
    let current = image;
    for (let i = 0; i < numOps; i++) current = drawAndApply(current, space, random, magnitude, fill);
    return current;
  };
}

export interface TrivialAugmentOptions {
  /** Default 31. */
  numMagnitudeBins?: number;
  fill?: number | number[];
}

export function trivialAugmentWide(options: TrivialAugmentOptions = {}): Transform {
  const { numMagnitudeBins = 31, fill = 0 } = options;
  checkBins('trivialAugmentWide', numMagnitudeBins);
  const space = trivialAugmentSpace(numMagnitudeBins);
  return (image, random) => drawAndApply(image, space, random, undefined, fill);
}
