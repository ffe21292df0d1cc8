// Image folders: class discovery, decoding with sharp (checked against PIL), and bad input.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadImageFolder } from '../src/data/image-folder.js';
import { DataLoader } from '../src/data/loader.js';
import { Random } from '../src/data/random.js';
import { centerCrop } from '../src/data/transforms.js';
import { runPython, tempDir } from './helpers/python.js';

const temp = tempDir('resnets-folder-');
after(() => temp.cleanup());
const root = join(temp.path, 'images');

function noise(width: number, height: number, channels: 1 | 3 | 4, seed: number): Buffer {
  const random = new Random(seed);
  return Buffer.from(Array.from({ length: width * height * channels }, () => random.int(256)));
}
const raw = (pixels: Buffer, width: number, height: number, channels: 1 | 3 | 4) => sharp(pixels, { raw: { width, height, channels } });

type PilPixels = { rgb: number[]; gray: number[]; size: [number, number] };
/** PIL's view of files: RGB and L pixels, as flat lists, by path. */
function pil(paths: string[]): Record<string, PilPixels> {
  return JSON.parse(runPython('data_reference.py', ['decode', ...paths]));
}

function write(path: string, bytes: Buffer | string): void {
  writeFileSync(path, bytes);
}

const rgbPixels = noise(6, 5, 3, 1);
before(async () => {
  for (const name of ['dog', 'cat', 'zebra', '.cache']) mkdirSync(join(root, name), { recursive: true });
  mkdirSync(join(root, 'zebra', 'nested'));
  write(join(root, 'cat', 'a.png'), await raw(rgbPixels, 6, 5, 3).png().toBuffer());
  write(join(root, 'cat', 'b.JPG'), await raw(noise(6, 5, 3, 2), 6, 5, 3).jpeg({ quality: 90 }).toBuffer());
  write(join(root, 'cat', 'notes.txt'), 'not an image, and not an image extension');
  write(join(root, 'dog', 'rgba.png'), await raw(noise(4, 3, 4, 3), 4, 3, 4).png().toBuffer());
  write(join(root, 'dog', 'gray.png'), await raw(noise(5, 4, 1, 4), 5, 4, 1).toColourspace('b-w').png().toBuffer());
  write(join(root, 'dog', 'broken.png'), 'this is text, not a PNG');
  write(join(root, 'zebra', 'c.webp'), await raw(noise(7, 6, 3, 5), 7, 6, 3).webp({ lossless: true }).toBuffer());
  write(join(root, 'zebra', 'nested', 'wide.png'), await raw(noise(40, 20, 3, 6), 40, 20, 3).png().toBuffer());
  write(join(root, '.cache', 'x.png'), await raw(noise(2, 2, 3, 7), 2, 2, 3).png().toBuffer());
  // A JPEG whose header is intact but whose data stops early.
  const big = await raw(noise(64, 64, 3, 8), 64, 64, 3).jpeg().toBuffer();
  mkdirSync(join(temp.path, 'truncated', 'only'), { recursive: true });
  write(join(temp.path, 'truncated', 'only', 'good.png'), await raw(rgbPixels, 6, 5, 3).png().toBuffer());
  write(join(temp.path, 'truncated', 'only', 'cut.jpg'), big.subarray(0, Math.floor(big.length * 0.6)));
});

describe('image folder', () => {
  it('classes are the sorted sub-folders; unreadable files are skipped and counted', async () => {
    const folder = await loadImageFolder(root);
    assert.deepEqual(folder.classes, ['cat', 'dog', 'zebra']);
    assert.equal(folder.channels, 3);
    assert.deepEqual(
      folder.samples.map((s) => [s.path.slice(root.length + 1), s.label]),
      [['cat/a.png', 0], ['cat/b.JPG', 0], ['dog/gray.png', 1], ['dog/rgba.png', 1], ['zebra/c.webp', 2], ['zebra/nested/wide.png', 2]],
    );
    assert.equal(folder.length, 6);
    assert.equal(folder.skipped.length, 1);
    assert.equal(folder.skipped[0].path, join(root, 'dog', 'broken.png'));
    assert.match(folder.skipped[0].reason, /unsupported image format/);
  });

  it('decodes PNG, JPEG and WebP to RGB as PIL does (alpha dropped, grey replicated)', async () => {
    const folder = await loadImageFolder(root);
    const reference = pil(folder.samples.map((s) => s.path));
    for (let i = 0; i < folder.length; i++) {
      const { image, label } = await folder.get(i);
      const path = folder.samples[i].path;
      const expected = reference[path];
      assert.equal(label, folder.samples[i].label);
      assert.deepEqual([image.height, image.width, image.channels], [...expected.size, 3], path);
      const lossy = path.endsWith('.JPG');
      let worst = 0;
      expected.rgb.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - image.data[k]))));
      assert.ok(worst <= (lossy ? 3 : 0), `${path}: differs from PIL by up to ${worst}`);
    }
    const first = await folder.get(0);
    assert.deepEqual(Buffer.from(first.image.data), rgbPixels, 'lossless PNG round-trips exactly');
  });

  it('channels: 1 gives PIL luma', async () => {
    const folder = await loadImageFolder(root, { channels: 1 });
    assert.equal(folder.channels, 1);
    const reference = pil(folder.samples.map((s) => s.path));
    for (const i of [0, 2, 3, 4]) {
      const { image } = await folder.get(i);
      assert.equal(image.channels, 1);
      assert.deepEqual(Array.from(image.data), reference[folder.samples[i].path].gray, folder.samples[i].path);
    }
  });

  it('shortSide resizes while decoding; extensions narrow the files taken', async () => {
    const resized = await loadImageFolder(root, { shortSide: 10 });
    const wide = await resized.get(5);
    assert.deepEqual([wide.image.height, wide.image.width], [10, 20]);
    const pngOnly = await loadImageFolder(root, { extensions: ['png'] });
    assert.deepEqual(pngOnly.samples.map((s) => s.path.slice(root.length + 1)), ['cat/a.png', 'dog/gray.png', 'dog/rgba.png', 'zebra/nested/wide.png']);
    await assert.rejects(loadImageFolder(root, { extensions: ['.webp'] }), /class folder .*cat holds no images \(looked for \.webp\)/);
  });

  it('strict turns an unreadable file into an error naming it', async () => {
    await assert.rejects(loadImageFolder(root, { strict: true }), (error: Error) => {
      assert.match(error.message, /1 unreadable image file: .*dog\/broken\.png \(.*unsupported image format/);
      return true;
    });
  });

  it('a file with a good header but cut-off data: header checks keep it, full checks skip it', async () => {
    const dir = join(temp.path, 'truncated');
    const headerOnly = await loadImageFolder(dir);
    assert.equal(headerOnly.length, 2);
    const cut = headerOnly.samples.findIndex((s) => s.path.endsWith('cut.jpg'));
    await assert.rejects(headerOnly.get(cut), /cannot decode image .*cut\.jpg/);
    const full = await loadImageFolder(dir, { verify: 'full' });
    assert.equal(full.length, 1);
    assert.match(full.skipped[0].path, /cut\.jpg$/);
    await assert.rejects(loadImageFolder(dir, { verify: 'full', strict: true }), /cut\.jpg/);
    const unchecked = await loadImageFolder(root, { verify: false });
    assert.equal(unchecked.length, 7);
    assert.equal(unchecked.skipped.length, 0);
  });

  it('empty class folders, class folders of only bad files, and rootless layouts are errors', async () => {
    const empty = join(temp.path, 'empty-class');
    mkdirSync(join(empty, 'a'), { recursive: true });
    mkdirSync(join(empty, 'b'));
    write(join(empty, 'a', 'x.png'), readFileSync(join(root, 'cat', 'a.png')));
    await assert.rejects(loadImageFolder(empty), new RegExp(`class folder ${join(empty, 'b')} holds no images`));

    const bad = join(temp.path, 'bad-class');
    mkdirSync(join(bad, 'a'), { recursive: true });
    mkdirSync(join(bad, 'b'));
    write(join(bad, 'a', 'x.png'), readFileSync(join(root, 'cat', 'a.png')));
    write(join(bad, 'b', 'y.png'), 'garbage');
    await assert.rejects(loadImageFolder(bad), /class folder .*bad-class\/b has no readable images/);

    const flat = join(temp.path, 'flat');
    mkdirSync(flat);
    write(join(flat, 'x.png'), readFileSync(join(root, 'cat', 'a.png')));
    await assert.rejects(loadImageFolder(flat), /has no class sub-folders/);
    await assert.rejects(loadImageFolder(join(temp.path, 'missing')), /is not a folder/);
    await assert.rejects(loadImageFolder(root, { channels: 2 as 3 }), /channels must be 1 or 3/);
  });

  it('feeds the loader: decoded, cropped to one size, batched', async () => {
    const folder = await loadImageFolder(root);
    const loader = new DataLoader(folder, { batchSize: 4, transform: centerCrop(4) });
    const shapes: number[][] = [];
    const labels: number[] = [];
    for await (const batch of loader.batches(0)) {
      shapes.push(batch.images.shape);
      labels.push(...(Array.from(batch.labels.toTypedArray() as BigInt64Array, Number)));
      batch.images.dispose();
      batch.labels.dispose();
    }
    assert.deepEqual(shapes, [[4, 3, 4, 4], [2, 3, 4, 4]]);
    assert.deepEqual(labels, [0, 0, 1, 1, 2, 2]);
    const mixed = new DataLoader(folder, { batchSize: 6 });
    const iterator = mixed.batches(0)[Symbol.asyncIterator]();
    await assert.rejects(iterator.next(), /images in a batch must share one size: sample 2 is 3x4x5 but sample 0 is 3x5x6/);
  });
});
