// Image folders a user did not lay out with care: symbolic-link cycles and links out of
// a class, folders of many files, FIFOs named like images, and images whose header
// claims more pixels than we are willing to decode.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, loadImageFolder, MAX_IMAGE_PIXELS } from '../src/data/image-folder.js';
import { preprocessImages } from '../src/cli/preprocess-image.js';
import { crc32 } from '../src/io/crc32.js';
import { imagesToTensor, normalize } from '../src/data/normalize.js';
import { Random } from '../src/data/random.js';
import { centerCrop, compose, resize } from '../src/data/transforms.js';
import { dispose, tidy } from '../src/torch/scope.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-hostile-folder-');
after(() => temp.cleanup());
let made = 0;
/** A fresh folder with classes a and b, each holding two small PNGs. */
async function twoClasses(): Promise<string> {
  const root = join(temp.path, `root${made++}`);
  for (const name of ['a', 'b']) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < 2; i++) {
      await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 10 * i, g: name === 'a' ? 0 : 200, b: 0 } } })
        .png()
        .toFile(join(root, name, `${i}.png`));
    }
  }
  return root;
}

const counts = (folder: Awaited<ReturnType<typeof loadImageFolder>>) => folder.classes.map((_, label) => folder.samples.filter((s) => s.label === label).length);

describe('image folders with symbolic links', () => {
  it('a link to the folder itself lists each image once', async () => {
    const root = await twoClasses();
    symlinkSync('.', join(root, 'a', 'self'));
    symlinkSync('.', join(root, 'a', 'again'));
    const folder = await loadImageFolder(root);
    assert.deepEqual(counts(folder), [2, 2]);
  });

  it("a link to '..' or into another class never gives that class's images to this one", async () => {
    const root = await twoClasses();
    symlinkSync('..', join(root, 'a', 'up'));
    symlinkSync(join('..', 'b'), join(root, 'a', 'other'));
    const folder = await loadImageFolder(root);
    assert.deepEqual(counts(folder), [2, 2]);
    assert.ok(folder.samples.filter((s) => s.label === 0).every((s) => !s.path.includes('/up/') && !s.path.includes('/other/')));
  });

  it('links out of the dataset root are not followed', async () => {
    const root = await twoClasses();
    const outside = await twoClasses();
    symlinkSync(join(outside, 'b'), join(root, 'a', 'elsewhere'));
    symlinkSync(join(outside, 'a', '0.png'), join(root, 'b', 'linked.png'));
    symlinkSync(join(outside, 'b'), join(root, 'c'));
    const folder = await loadImageFolder(root);
    assert.deepEqual(folder.classes, ['a', 'b'], 'a class linked from outside the root is not a class');
    assert.deepEqual(counts(folder), [2, 2]);
  });

  it('a linked sub-folder inside the class is followed once', async () => {
    const root = await twoClasses();
    mkdirSync(join(root, 'a', 'more'));
    await sharp({ create: { width: 4, height: 4, channels: 3, background: 'white' } }).png().toFile(join(root, 'a', 'more', 'x.png'));
    symlinkSync('more', join(root, 'a', 'more-link'));
    const folder = await loadImageFolder(root);
    assert.deepEqual(counts(folder), [3, 2]);
  });
});

describe('large and special folders', () => {
  it('lists a class folder of 130,000 files (no argument spreading)', async () => {
    const root = join(temp.path, 'many');
    mkdirSync(join(root, 'a', 'deep'), { recursive: true });
    mkdirSync(join(root, 'b'), { recursive: true });
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: 'black' } }).png().toBuffer();
    for (let i = 0; i < 130_000; i++) writeFileSync(join(root, 'a', 'deep', `${i}.png`), png);
    writeFileSync(join(root, 'b', '0.png'), png);
    const folder = await loadImageFolder(root, { verify: false });
    assert.deepEqual(counts(folder), [130_000, 1]);
  });

  it('a FIFO named like an image is skipped (or an error with strict), never read', async () => {
    const root = await twoClasses();
    execFileSync('mkfifo', [join(root, 'a', 'pipe.png')]);
    const folder = await loadImageFolder(root);
    assert.deepEqual(counts(folder), [2, 2]);
    assert.deepEqual(folder.skipped.map((s) => [s.path, s.reason]), [[join(root, 'a', 'pipe.png'), 'not a regular file']]);
    await assert.rejects(loadImageFolder(root, { strict: true }), /pipe\.png is named like an image but is not a regular file/);
    await assert.rejects(decodeImage(join(root, 'a', 'pipe.png')), /cannot decode image .*pipe\.png: not a regular file/);
  });
});

/** A PNG whose header says width x height, with one tiny (wrong-sized) data chunk. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body) >>> 0, body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('images that claim too many pixels', () => {
  it('a 16000x16000 PNG header is refused before decoding, in folders, decoding and predict', async () => {
    const root = await twoClasses();
    const big = join(root, 'a', 'big.png');
    writeFileSync(big, pngClaiming(16000, 16000));
    const folder = await loadImageFolder(root);
    const skipped = folder.skipped.find((s) => s.path === big);
    assert.ok(skipped, 'the oversized image is skipped');
    assert.match(skipped.reason, /pixel limit|over the limit of 67108864 pixels/);
    await assert.rejects(decodeImage(big), new RegExp(`cannot decode image .*big\\.png: .*pixel limit.*more than ${MAX_IMAGE_PIXELS} pixels`));
    await assert.rejects(preprocessImages([big], { size: 32, cropPct: 1, mean: [0, 0, 0], std: [1, 1, 1], channels: 3 }), /pixel limit/);
  });

  it('a large image is reduced while decoding for predict, and gives nearly what a full decode gives', async () => {
    const file = join(temp.path, 'large.jpg');
    // Smooth gradients, so the reduced decode and the full one agree closely.
    const width = 2400;
    const height = 1600;
    const pixels = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.set([(x * 255) / width, (y * 255) / height, 128], (y * width + x) * 3);
    await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toFile(file);
    const reduced = await decodeImage(file, 3, undefined, { reduceToAtLeast: 64 });
    assert.equal(Math.min(reduced.width, reduced.height), 128, 'decoded at twice the target, not 1600 rows');
    const full = await decodeImage(file, 3);
    assert.equal(full.height, 1600);
    const options = { size: 64, cropPct: 1, mean: [0, 0, 0], std: [1, 1, 1], channels: 3 };
    const viaReduced = await preprocessImages([file], options);
    assert.deepEqual(viaReduced.shape, [1, 3, 64, 64]);
    const transform = compose([resize(64), centerCrop(64)]);
    const viaFull = imagesToTensor([transform(full, new Random(0))], { normalize: normalize([0, 0, 0], [1, 1, 1]) });
    const difference = tidy(() => viaReduced.sub(viaFull).abs().mean().item());
    assert.ok(difference < 2 / 255, `mean difference ${difference}`);
    dispose([viaReduced, viaFull]);
  });
});
