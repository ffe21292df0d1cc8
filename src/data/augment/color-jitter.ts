// torchvision's ColorJitter: brightness, contrast, saturation and hue factors drawn
// uniformly, applied in a random order (one permutation per image).
import type { Transform } from '../transforms.js';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from './pixel-ops.js';

export interface ColorJitterOptions {
  /** Factor drawn from [max(0, 1 - b), 1 + b]; 0 leaves brightness alone. */
  brightness?: number;
  contrast?: number;
  saturation?: number;
  /** Hue shift drawn from [-h, h], h at most 0.5. */
  hue?: number;
}

export function colorJitter(options: ColorJitterOptions): Transform {
  const { brightness = 0, contrast = 0, saturation = 0, hue = 0 } = options;
  for (const [name, value] of Object.entries({ brightness, contrast, saturation })) {
    if (!(value >= 0)) throw new Error(`colorJitter: ${name} must be non-negative, got ${value}`);
  }
  if (!(hue >= 0 && hue <= 0.5)) throw new Error(`colorJitter: hue must be in [0, 0.5], got ${hue}`);
  const factorRange = (value: number): [number, number] | undefined => (value === 0 ? undefined : [Math.max(0, 1 - value), 1 + value]);
  const ranges = [factorRange(brightness), factorRange(contrast), factorRange(saturation), hue === 0 ? undefined : ([-hue, hue] as [number, number])];
  const ops = [adjustBrightness, adjustContrast, adjustSaturation, adjustHue];
  return (image, random) => {
    const order = random.shuffle([0, 1, 2, 3]);
    const factors = ranges.map((range) => (range ? random.uniform(range[0], range[1]) : undefined));
    let current = image;
    for (const index of order) {
      const factor = factors[index];
      if (factor !== undefined) current = ops[index](current, factor);
    }
    return current;
  };
}
