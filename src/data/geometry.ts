// Pixel operations on HWC images: crop (with fill outside the image), mirror, and
// bilinear resampling. Inputs are never modified.
import { emptyImage, type Image } from './image.js';

/**
 * The height x width window whose top-left corner is (top, left); parts of the window
 * outside the image take the value `fill` (so a window may extend past every edge).
 */
export function crop(image: Image, top: number, left: number, height: number, width: number, fill = 0): Image {
  const { channels, data } = image;
  const out = emptyImage(image, height, width);
  const inside = top >= 0 && left >= 0 && top + height <= image.height && left + width <= image.width;
  if (!inside && fill !== 0) out.data.fill(fill);
  // Columns of the window that land on the image, as a span copied row by row.
  const firstColumn = Math.max(0, -left);
  const lastColumn = Math.min(width, image.width - left);
  if (lastColumn <= firstColumn) return out;
  const spanLength = (lastColumn - firstColumn) * channels;
  for (let y = 0; y < height; y++) {
    const sourceRow = top + y;
    if (sourceRow < 0 || sourceRow >= image.height) continue;
    const from = (sourceRow * image.width + left + firstColumn) * channels;
    const to = (y * width + firstColumn) * channels;
    out.data.set(data.subarray(from, from + spanLength), to);
  }
  return out;
}

/** The image mirrored left to right. */
export function flipHorizontal(image: Image): Image {
  const { channels, height, width, data } = image;
  const out = emptyImage(image, height, width);
  const target = out.data;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const from = (row + x) * channels;
      const to = (row + width - 1 - x) * channels;
      for (let c = 0; c < channels; c++) target[to + c] = data[from + c];
    }
  }
  return out;
}

/** For each output position along one axis: the first source index and its weights. */
interface AxisWeights {
  starts: Int32Array;
  counts: Int32Array;
  /** maxCount weights per output position, zero-padded. */
  weights: Float64Array;
  maxCount: number;
}

/**
 * Triangle-filter weights mapping source pixels [start, start + length) onto `outSize`
 * pixels. Upsampling this is plain bilinear interpolation (half-pixel centres); when
 * downsampling the triangle widens with the scale so every source pixel contributes,
 * which is what PIL and torch's `antialias=True` do.
 */
function axisWeights(start: number, length: number, outSize: number): AxisWeights {
  const scale = length / outSize;
  const support = Math.max(1, scale);
  const maxCount = Math.ceil(support) * 2 + 1;
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxCount);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const first = Math.max(0, Math.floor(center - support));
    const last = Math.min(length - 1, Math.ceil(center + support));
    let total = 0;
    let count = 0;
    let firstUsed = -1;
    for (let j = first; j <= last; j++) {
      const w = 1 - Math.abs(j + 0.5 - center) / support;
      if (w <= 0) continue;
      if (firstUsed < 0) firstUsed = j;
      weights[i * maxCount + (j - firstUsed)] = w;
      total += w;
      count = j - firstUsed + 1;
    }
    for (let k = 0; k < count; k++) weights[i * maxCount + k] /= total;
    starts[i] = start + firstUsed;
    counts[i] = count;
  }
  return { starts, counts, weights, maxCount };
}

/**
 * Resamples the window (top, left, height, width) of `image`, which must lie inside it,
 * to outHeight x outWidth. uint8 images are rounded back to uint8.
 */
export function resample(image: Image, top: number, left: number, height: number, width: number, outHeight: number, outWidth: number): Image {
  if (top < 0 || left < 0 || top + height > image.height || left + width > image.width || height <= 0 || width <= 0) {
    throw new Error(`resample: window ${height}x${width} at (${top}, ${left}) is not inside the ${image.height}x${image.width} image`);
  }
  const { channels, data } = image;
  const columns = axisWeights(left, width, outWidth);
  const rows = axisWeights(top, height, outHeight);
  // Horizontal pass over the window's rows into floats, then the vertical pass.
  const middle = new Float64Array(height * outWidth * channels);
  for (let y = 0; y < height; y++) {
    const sourceRow = (top + y) * image.width;
    for (let x = 0; x < outWidth; x++) {
      const base = x * columns.maxCount;
      const first = columns.starts[x];
      const count = columns.counts[x];
      const to = (y * outWidth + x) * channels;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let k = 0; k < count; k++) sum += columns.weights[base + k] * data[(sourceRow + first + k) * channels + c];
        middle[to + c] = sum;
      }
    }
  }
  const out = emptyImage(image, outHeight, outWidth);
  const target = out.data;
  const rounds = target instanceof Uint8Array;
  const rowSize = outWidth * channels;
  for (let y = 0; y < outHeight; y++) {
    const base = y * rows.maxCount;
    const first = rows.starts[y] - top;
    const count = rows.counts[y];
    for (let i = 0; i < rowSize; i++) {
      let sum = 0;
      for (let k = 0; k < count; k++) sum += rows.weights[base + k] * middle[(first + k) * rowSize + i];
      // Uint8Array assignment truncates and wraps, so round and clamp first.
      target[y * rowSize + i] = rounds ? Math.min(255, Math.max(0, Math.round(sum))) : sum;
    }
  }
  return out;
}

/** Python's round() and torch.round: halves go to the even neighbour (torchvision computes offsets with it). */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}
