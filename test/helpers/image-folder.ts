// A small generated image folder (one sub-folder per class) whose classes differ in
// colour, so a few steps of training can tell them apart.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** Writes `perClass` PNGs of `size`x`size` for each class into `root`; returns the class names. */
export async function writeColourFolder(root: string, options: { classes?: number; perClass?: number; size?: number; seed?: number } = {}): Promise<string[]> {
  const classes = options.classes ?? 3;
  const perClass = options.perClass ?? 8;
  const size = options.size ?? 32;
  let state = (options.seed ?? 1) >>> 0;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const names = Array.from({ length: classes }, (_, c) => `class${c}`);
  for (const [c, name] of names.entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const pixels = Buffer.alloc(size * size * 3);
      for (let p = 0; p < size * size; p++) {
        for (let channel = 0; channel < 3; channel++) {
          const base = channel === c % 3 ? 190 : 60;
          pixels[p * 3 + channel] = Math.max(0, Math.min(255, Math.round(base + (random() - 0.5) * 120)));
        }
      }
      await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(join(root, name, `${i}.png`));
    }
  }
  return names;
}
