// `resnets predict` preprocessing against torchvision's evaluation preset (Resize 256,
// CenterCrop 224, ToTensor, Normalize) on generated images that need upscaling and
// downscaling, in landscape and portrait.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { preprocessImages } from '../src/cli/preprocess-image.js';
import { loadNpy } from '../src/io/index.js';
import { imagenetStats } from '../src/data/normalize.js';
import { tidy } from '../src/torch/scope.js';
import { runPython, tempDir } from './helpers/python.js';

const temp = tempDir('resnets-preprocess-');
after(() => temp.cleanup());

async function waves(width: number, height: number, file: string): Promise<string> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) pixels[(y * width + x) * 3 + c] = Math.round(127.5 + 127.5 * Math.sin(x / (7 + 3 * c)) * Math.cos(y / (11 + c)));
    }
  }
  const path = join(temp.path, file);
  await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(path);
  return path;
}

describe('predict preprocessing', () => {
  it('matches torchvision within one pixel level', async () => {
    const files = [await waves(301, 217, 'small.png'), await waves(611, 905, 'tall.png'), await waves(224, 224, 'exact.png')];
    const reference = join(temp.path, 'reference.npy');
    runPython('cli_reference.py', ['preprocess', reference, '224', '256', ...files]);
    const ours = await preprocessImages(files, { size: 224, cropPct: 0.875, channels: 3, ...imagenetStats });
    const expected = loadNpy(reference);
    assert.deepEqual(ours.shape, [3, 3, 224, 224]);
    assert.deepEqual(expected.shape, ours.shape);
    // Both round the resized image to 8 bits: one level, divided by the smallest std.
    const oneLevel = 1 / 255 / 0.224 + 1e-5;
    const worst = tidy(() => ours.sub(expected).abs().max().item());
    assert.ok(worst <= oneLevel, `largest difference ${worst} exceeds one pixel level (${oneLevel})`);
    const mean = tidy(() => ours.sub(expected).abs().mean().item());
    assert.ok(mean < 0.01, `mean difference ${mean}`);
    ours.dispose();
    expected.dispose();
  });

  it('refuses a missing file and a model that is neither grey nor RGB', async () => {
    await assert.rejects(preprocessImages([join(temp.path, 'none.png')], { size: 8, cropPct: 1, channels: 3, ...imagenetStats }), /image '.*none\.png' does not exist/);
    await assert.rejects(preprocessImages([], { size: 8, cropPct: 1, channels: 4, mean: [0], std: [1] }), /1- or 3-channel/);
  });
});
