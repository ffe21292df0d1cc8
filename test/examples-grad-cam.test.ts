// examples/grad-cam.mjs runs as a user runs it (against the sources here, through the
// package's 'resnets-source' export condition) and writes a heat-map PNG the size of its
// input image, over which the map visibly changes the pixels.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-gradcam-');
after(() => temp.cleanup());

describe('examples/grad-cam.mjs', () => {
  it('writes a heat map the size of the input image', async () => {
    const [width, height] = [72, 52];
    const pixels = Buffer.alloc(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const [x, y] = [i % width, Math.floor(i / width)];
      // A bright square on a dark ground: something for the map to pick out.
      const inside = x > 20 && x < 44 && y > 10 && y < 34;
      pixels.fill(inside ? 230 : 30, i * 3, i * 3 + 3);
    }
    const input = join(temp.path, 'input.png');
    const output = join(temp.path, 'cam.png');
    await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(input);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--conditions=resnets-source', 'examples/grad-cam.mjs', input, output, '--model', 'resnet18', '--size', '64', '--layer', 'layer3'],
      { env: { ...process.env, RESNETS_NUM_THREADS: '1' } },
    );
    assert.match(stdout, /^class \d+ \(score -?\d+\.\d+\): Grad-CAM of layer3 \(4x4\) written to .*cam\.png \(72x52\)/);
    const written = await sharp(output).raw().toBuffer({ resolveWithObject: true });
    assert.equal(written.info.width, width);
    assert.equal(written.info.height, height);
    assert.equal(written.info.format, 'raw');
    let changed = 0;
    for (let i = 0; i < width * height; i++) {
      let difference = 0;
      for (let c = 0; c < 3; c++) difference += Math.abs(written.data[i * written.info.channels + c] - pixels[i * 3 + c]);
      if (difference > 30) changed++;
    }
    assert.ok(changed > (width * height) / 2, 'the coloured map is drawn over the image');
  });
});
