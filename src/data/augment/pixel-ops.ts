// The image operations of torchvision's tensor path (transforms/functional_tensor.py) on
// uint8 HWC images: colour blends, posterize, solarize, autocontrast, equalize, hue, and
// the nearest-neighbour affine warp that shears, translates and rotates. torchvision
// computes in float32 and truncates back to uint8; Math.fround repeats its rounding, so
// the results equal torchvision's (the geometric ops up to pixels that sit exactly on a
// rounding boundary).
import { roundHalfEven } from '../geometry.js';
import { emptyImage, type Image } from '../image.js';

const f = Math.fround;

function requireUint8(image: Image, op: string): Uint8Array {
  if (!(image.data instanceof Uint8Array)) throw new Error(`${op} works on uint8 images (as torchvision's), got float pixels`);
  if (image.channels !== 1 && image.channels !== 3) throw new Error(`${op} needs 1 or 3 channels, got ${image.channels}`);
  return image.data;
}

/** float32 -> uint8 as torch's `.to(torch.uint8)` after a clamp to [0, 255]: truncation. */
const toUint8 = (value: number) => Math.trunc(Math.min(255, Math.max(0, value)));

/** ratio * a + (1 - ratio) * b in float32, clamped and truncated (torchvision's `_blend`). */
function blend(image: Image, other: (index: number) => number, ratio: number): Image {
  const data = requireUint8(image, 'blend');
  const out = emptyImage(image, image.height, image.width);
  const r = f(ratio);
  const s = f(1 - ratio);
  for (let i = 0; i < data.length; i++) out.data[i] = toUint8(f(f(r * data[i]) + f(s * other(i))));
  return out;
}

/** The uint8 luminance (0.2989 R + 0.587 G + 0.114 B, truncated) of every pixel. */
function grayscale(image: Image): Uint8Array {
  const data = requireUint8(image, 'grayscale');
  const pixels = image.height * image.width;
  if (image.channels === 1) return data.slice();
  const out = new Uint8Array(pixels);
  const [wr, wg, wb] = [f(0.2989), f(0.587), f(0.114)];
  for (let p = 0; p < pixels; p++) {
    const i = p * 3;
    out[p] = toUint8(f(f(f(wr * data[i]) + f(wg * data[i + 1])) + f(wb * data[i + 2])));
  }
  return out;
}

export function adjustBrightness(image: Image, factor: number): Image {
  checkFactor('adjustBrightness', factor);
  return blend(image, () => 0, factor);
}

export function adjustContrast(image: Image, factor: number): Image {
  checkFactor('adjustContrast', factor);
  const gray = grayscale(image);
  let sum = 0;
  for (const value of gray) sum += value;
  const mean = f(sum / gray.length);
  return blend(image, () => mean, factor);
}

/** Saturation: a blend with the grey image; a grey image is returned as it is (as PIL). */
export function adjustSaturation(image: Image, factor: number): Image {
  checkFactor('adjustSaturation', factor);
  if (image.channels === 1) return image;
  const gray = grayscale(image);
  return blend(image, (i) => gray[Math.floor(i / 3)], factor);
}

/** A blend with the image smoothed by the 3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13, borders kept. */
export function adjustSharpness(image: Image, factor: number): Image {
  checkFactor('adjustSharpness', factor);
  const data = requireUint8(image, 'adjustSharpness');
  const { height, width, channels } = image;
  if (height <= 2 || width <= 2) return image;
  const blurred = data.slice();
  const edge = f(1 / 13);
  const centre = f(5 / 13);
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) sum += (dx === 0 && dy === 0 ? centre : edge) * data[((y + dy) * width + x + dx) * channels + c];
        }
        blurred[(y * width + x) * channels + c] = roundHalfEven(f(sum));
      }
    }
  }
  return blend(image, (i) => blurred[i], factor);
}

/** Keeps the top `bits` bits of every value. */
export function posterize(image: Image, bits: number): Image {
  const data = requireUint8(image, 'posterize');
  if (!Number.isInteger(bits) || bits < 0 || bits > 8) throw new Error(`posterize: bits must be an integer in [0, 8], got ${bits}`);
  const mask = (0xff << (8 - bits)) & 0xff;
  const out = emptyImage(image, image.height, image.width);
  for (let i = 0; i < data.length; i++) out.data[i] = data[i] & mask;
  return out;
}

/** Inverts every value at or above `threshold`. */
export function solarize(image: Image, threshold: number): Image {
  const data = requireUint8(image, 'solarize');
  if (!(threshold >= 0 && threshold <= 255)) throw new Error(`solarize: threshold must be in [0, 255], got ${threshold}`);
  const out = emptyImage(image, image.height, image.width);
  for (let i = 0; i < data.length; i++) out.data[i] = data[i] >= threshold ? 255 - data[i] : data[i];
  return out;
}

/** Stretches each channel to the full 0..255 range (a flat channel is left alone). */
export function autocontrast(image: Image): Image {
  const data = requireUint8(image, 'autocontrast');
  const { channels } = image;
  const out = emptyImage(image, image.height, image.width);
  for (let c = 0; c < channels; c++) {
    let low = 255;
    let high = 0;
    for (let i = c; i < data.length; i += channels) {
      low = Math.min(low, data[i]);
      high = Math.max(high, data[i]);
    }
    const flat = high === low;
    const minimum = flat ? 0 : low;
    const scale = flat ? 1 : f(255 / (high - low));
    for (let i = c; i < data.length; i += channels) out.data[i] = toUint8(f((data[i] - minimum) * scale));
  }
  return out;
}

/** Histogram equalisation of each channel, with torchvision's look-up table. */
export function equalize(image: Image): Image {
  const data = requireUint8(image, 'equalize');
  const { channels } = image;
  const out = emptyImage(image, image.height, image.width);
  for (let c = 0; c < channels; c++) {
    const histogram = new Array<number>(256).fill(0);
    for (let i = c; i < data.length; i += channels) histogram[data[i]]++;
    // Every non-empty bin but the highest, spread over 255 levels.
    const nonEmpty = histogram.filter((count) => count !== 0);
    const step = Math.floor(nonEmpty.slice(0, -1).reduce((a, b) => a + b, 0) / 255);
    if (step === 0) {
      for (let i = c; i < data.length; i += channels) out.data[i] = data[i];
      continue;
    }
    const lut = new Uint8Array(256);
    let cumulative = 0;
    for (let v = 0; v < 255; v++) {
      cumulative += histogram[v];
      lut[v + 1] = Math.min(255, Math.floor((cumulative + Math.floor(step / 2)) / step));
    }
    for (let i = c; i < data.length; i += channels) out.data[i] = lut[data[i]];
  }
  return out;
}

/** Shifts the hue by `factor` turns (in [-0.5, 0.5]) through HSV, as torchvision's tensor path. */
export function adjustHue(image: Image, factor: number): Image {
  if (!(factor >= -0.5 && factor <= 0.5)) throw new Error(`adjustHue: factor must be in [-0.5, 0.5], got ${factor}`);
  const data = requireUint8(image, 'adjustHue');
  if (image.channels === 1) return image;
  const out = emptyImage(image, image.height, image.width);
  for (let i = 0; i < data.length; i += 3) {
    const r = f(data[i] / 255);
    const g = f(data[i + 1] / 255);
    const b = f(data[i + 2] / 255);
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const range = f(max - min);
    const equal = max === min;
    const s = f(range / (equal ? 1 : max));
    const divisor = equal ? 1 : range;
    const rc = f(f(max - r) / divisor);
    const gc = f(f(max - g) / divisor);
    const bc = f(f(max - b) / divisor);
    let h = max === r ? f(bc - gc) : max === g ? f(f(2 + rc) - bc) : f(f(4 + gc) - rc);
    h = f(f(h / 6) + 1) % 1;
    h = f(f(h + f(factor)) % 1);
    if (h < 0) h = f(h + 1);
    const [nr, ng, nb] = hsvToRgb(h, s, max);
    out.data[i] = toUint8(f(nr * 255));
    out.data[i + 1] = toUint8(f(ng * 255));
    out.data[i + 2] = toUint8(f(nb * 255));
  }
  return out;
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const sector = Math.floor(f(h * 6));
  const frac = f(f(h * 6) - sector);
  const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
  const p = clamp01(f(v * f(1 - s)));
  const q = clamp01(f(v * f(1 - f(s * frac))));
  const t = clamp01(f(v * f(1 - f(s * f(1 - frac)))));
  switch (((sector % 6) + 6) % 6) {
    case 0: return [v, t, p];
    case 1: return [q, v, p];
    case 2: return [p, v, t];
    case 3: return [p, q, v];
    case 4: return [t, p, v];
    default: return [v, p, q];
  }
}

export interface AffineOptions {
  /** Degrees, counter-clockwise as torchvision's `rotate`. */
  angle?: number;
  /** Pixels [x, y]. */
  translate?: [number, number];
  /** Degrees [x, y]. */
  shear?: [number, number];
  /** Centre of rotation and shear in pixels [x, y] (default: the image centre). */
  center?: [number, number];
  /** Value of pixels that come from outside the image: one for all channels or one per channel. */
  fill?: number | number[];
}

/**
 * torchvision's `F.affine` / `F.rotate` on a tensor with nearest interpolation: each
 * output pixel takes the input pixel the inverse transform maps it to (grid_sample with
 * align_corners=False), or `fill` when that falls outside.
 */
export function affine(image: Image, options: AffineOptions): Image {
  const data = requireUint8(image, 'affine');
  const { height, width, channels } = image;
  const [cx, cy] = options.center ? [options.center[0] - width * 0.5, options.center[1] - height * 0.5] : [0, 0];
  const m = inverseAffineMatrix([cx, cy], options.angle ?? 0, options.translate ?? [0, 0], options.shear ?? [0, 0]).map(f);
  const fill = options.fill ?? 0;
  const fills = Array.from({ length: channels }, (_, c) => (typeof fill === 'number' ? fill : fill[c] ?? fill[0]));
  // The grid divides the matrix by half the size (torchvision's `_gen_affine_grid`).
  const [halfW, halfH] = [f(0.5 * width), f(0.5 * height)];
  const t = [f(m[0] / halfW), f(m[1] / halfW), f(m[2] / halfW), f(m[3] / halfH), f(m[4] / halfH), f(m[5] / halfH)];
  const out = emptyImage(image, height, width);
  for (let j = 0; j < height; j++) {
    const y = j - height * 0.5 + 0.5;
    for (let i = 0; i < width; i++) {
      const x = i - width * 0.5 + 0.5;
      const gx = f(f(f(x * t[0]) + f(y * t[1])) + t[2]);
      const gy = f(f(f(x * t[3]) + f(y * t[4])) + t[5]);
      const sx = roundHalfEven(f(f(f(gx + 1) * width - 1) / 2));
      const sy = roundHalfEven(f(f(f(gy + 1) * height - 1) / 2));
      const inside = sx >= 0 && sx < width && sy >= 0 && sy < height;
      const to = (j * width + i) * channels;
      for (let c = 0; c < channels; c++) out.data[to + c] = inside ? data[(sy * width + sx) * channels + c] : fills[c];
    }
  }
  return out;
}

/** Rotation by `angle` degrees counter-clockwise about the centre (torchvision's `F.rotate`, expand=False). */
export function rotate(image: Image, angle: number, fill: number | number[] = 0): Image {
  // torchvision's rotate passes -angle to the same inverse matrix as affine.
  return affine(image, { angle: -angle, fill });
}

/** torchvision's `_get_inverse_affine_matrix` (output -> input), with scale 1. */
function inverseAffineMatrix(center: [number, number], angle: number, translate: [number, number], shear: [number, number]): number[] {
  const rad = (deg: number) => (deg * Math.PI) / 180;
  const rot = rad(angle);
  const sx = rad(shear[0]);
  const sy = rad(shear[1]);
  const [cx, cy] = center;
  const [tx, ty] = translate;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const matrix = [d, -b, 0, -c, a, 0];
  matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty);
  matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty);
  matrix[2] += cx;
  matrix[5] += cy;
  return matrix;
}

function checkFactor(op: string, factor: number): void {
  if (!(factor >= 0)) throw new Error(`${op}: factor must be non-negative, got ${factor}`);
}
