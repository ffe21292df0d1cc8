// torchvision's RandomErasing (Zhong et al. 2017), on the normalised CHW pixels as
// torchvision applies it after Normalize: with probability p, a rectangle of random area
// and aspect is set to a value (0, the normalised mean colour, by default), per-channel
// values, or standard-normal noise ('random').
import type { Random } from '../random.js';
import { roundHalfEven } from '../geometry.js';

/** A transform of one sample's normalised pixels (C planes of H x W), in place. */
export type TensorTransform = (pixels: Float32Array, shape: readonly [number, number, number], random: Random) => void;

export interface RandomErasingOptions {
  /** Probability of erasing (default 0.5). */
  p?: number;
  /** Range of the erased area as a fraction of the image's (default [0.02, 0.33]). */
  scale?: readonly [number, number];
  /** Range of the rectangle's height / width, drawn log-uniformly (default [0.3, 3.3]). */
  ratio?: readonly [number, number];
  /** 0 by default; a value per channel; or 'random' for normal noise. */
  value?: number | readonly number[] | 'random';
}

export function randomErasing(options: RandomErasingOptions = {}): TensorTransform {
  const { p = 0.5, scale = [0.02, 0.33], ratio = [0.3, 3.3], value = 0 } = options;
  if (!(p >= 0 && p <= 1)) throw new Error(`randomErasing: p must be in [0, 1], got ${p}`);
  if (!(scale[0] >= 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new Error(`randomErasing: scale must satisfy 0 <= low <= high <= 1, got [${scale.join(', ')}]`);
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new Error(`randomErasing: ratio must satisfy 0 < low <= high, got [${ratio.join(', ')}]`);
  const [logLow, logHigh] = [Math.log(ratio[0]), Math.log(ratio[1])];
  return (pixels, [channels, height, width], random) => {
    if (random.next() >= p) return;
    if (Array.isArray(value) && value.length !== 1 && value.length !== channels) {
      throw new Error(`randomErasing: ${value.length} values for an image with ${channels} channels (give 1 or ${channels})`);
    }
    const area = height * width;
    for (let attempt = 0; attempt < 10; attempt++) {
      const eraseArea = area * random.uniform(scale[0], scale[1]);
      const aspect = Math.exp(random.uniform(logLow, logHigh));
      const h = roundHalfEven(Math.sqrt(eraseArea * aspect));
      const w = roundHalfEven(Math.sqrt(eraseArea / aspect));
      if (!(h < height && w < width)) continue;
      // torchvision draws the noise before the position.
      const noise = value === 'random' ? Float32Array.from({ length: channels * h * w }, () => random.normal()) : undefined;
      const top = random.int(height - h + 1);
      const left = random.int(width - w + 1);
      for (let c = 0; c < channels; c++) {
        const fillValue = typeof value === 'number' ? value : Array.isArray(value) ? (value.length === 1 ? value[0] : value[c]) : 0;
        for (let y = 0; y < h; y++) {
          const row = c * area + (top + y) * width + left;
          for (let x = 0; x < w; x++) pixels[row + x] = noise ? noise[(c * h + y) * w + x] : fillValue;
        }
      }
      return;
    }
  };
}
