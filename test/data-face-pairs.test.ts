// Pair lists for face verification: LFW's pairs.txt layout and InsightFace's .bin files
// (written by scripts/face_bin_fixture.py with Python's pickle, in Python 3's and
// Python 2's layouts, and a pickle that would run a command).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../src/data/image-folder.js';
import { readFacePairs, readLfwPairs, readVerificationBin } from '../src/data/face-pairs.js';
import { runPython, tempDir } from './helpers/python.js';

const dir = tempDir('resnets-pairs-');
const images = join(dir.path, 'lfw');

async function writeImage(path: string, size: number, seed: number, format: 'jpeg' | 'png'): Promise<void> {
  const pixels = Buffer.alloc(size * size * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + seed * 101) % 256;
  const image = sharp(pixels, { raw: { width: size, height: size, channels: 3 } });
  await (format === 'jpeg' ? image.jpeg() : image.png()).toFile(path);
}

before(async () => {
  for (const [name, count] of [['Alice_Smith', 2], ['Bob', 1], ['Carol', 1]] as const) {
    mkdirSync(join(images, name), { recursive: true });
    for (let i = 1; i <= count; i++) await writeImage(join(images, name, `${name}_${String(i).padStart(4, '0')}.jpg`), 16, i + name.length, 'jpeg');
  }
});
after(() => dir.cleanup());

describe("LFW's pairs.txt", () => {
  it('reads same and different pairs after the header, skipping pairs with a missing image', () => {
    const pairsFile = join(dir.path, 'pairs.txt');
    writeFileSync(pairsFile, '1\t2\nAlice_Smith\t1\t2\nAlice_Smith\t1\t3\nAlice_Smith\t2\tBob\t1\r\nBob 1 Carol 1\n\n');
    const pairs = readLfwPairs(pairsFile, images);
    assert.deepEqual(pairs.same, [true, false, false]);
    assert.equal(pairs.skipped, 1);
    assert.deepEqual(pairs.images.slice(0, 4), [
      join(images, 'Alice_Smith', 'Alice_Smith_0001.jpg'),
      join(images, 'Alice_Smith', 'Alice_Smith_0002.jpg'),
      join(images, 'Alice_Smith', 'Alice_Smith_0002.jpg'),
      join(images, 'Bob', 'Bob_0001.jpg'),
    ]);
  });

  it('names the line of a malformed pair, and says when no pair has its images', () => {
    const bad = join(dir.path, 'bad.txt');
    writeFileSync(bad, '10 300\nAlice_Smith 1\n');
    assert.throws(() => readLfwPairs(bad, images), /bad.txt:2: expected 'name i j' or 'name1 i name2 j', got 'Alice_Smith 1'/);
    writeFileSync(bad, '10 300\nAlice_Smith 1 x\n');
    assert.throws(() => readLfwPairs(bad, images), /bad.txt:2: 'x' is not an image number/);
    writeFileSync(bad, '10 300\nDave 1 2\n');
    assert.throws(() => readLfwPairs(bad, images), /none of its pairs has both images/);
    assert.throws(() => readFacePairs(bad), /give the folder of its images \(--images DIR/);
  });
});

describe("InsightFace's evaluation .bin", () => {
  const files: string[] = [];
  const prefix = join(dir.path, 'eval');
  before(async () => {
    // A small PNG (under 256 bytes: SHORT_BINSTRING in Python 2's layout) and larger JPEGs (BINSTRING).
    for (let i = 0; i < 4; i++) {
      const file = join(dir.path, `face${i}.${i === 0 ? 'png' : 'jpg'}`);
      await writeImage(file, i === 0 ? 2 : 24, i, i === 0 ? 'png' : 'jpeg');
      files.push(file);
    }
    runPython('face_bin_fixture.py', [prefix, '10', ...files]);
  });

  for (const layout of ['py3', 'py2'] as const) {
    it(`reads the encoded images and same flags of a ${layout === 'py3' ? 'Python 3' : 'Python 2'} pickle`, async () => {
      const pairs = readVerificationBin(`${prefix}-${layout}.bin`);
      assert.deepEqual(pairs.same, [true, false]);
      assert.equal(pairs.images.length, 4);
      pairs.images.forEach((image, i) => assert.deepEqual(Buffer.from(image as Uint8Array), readFileSync(files[i]), `image ${i}`));
      const fromBytes = await decodeImage(pairs.images[1]);
      const fromFile = await decodeImage(files[1]);
      assert.deepEqual(fromBytes, fromFile);
    });
  }

  it('refuses a pickle that would call a function, without calling it', () => {
    assert.throws(() => readVerificationBin(`${prefix}-evil.bin`), /names posix\.system|names os\.system/);
  });

  it('a truncated or mistaken file is a clear error', () => {
    const data = readFileSync(`${prefix}-py3.bin`);
    const cut = join(dir.path, 'cut.bin');
    writeFileSync(cut, data.subarray(0, data.length - 40));
    assert.throws(() => readVerificationBin(cut), /cut\.bin: .*(truncated|ends|larger than the whole pickle)/);
    const odd = join(dir.path, 'odd.bin');
    writeFileSync(odd, Buffer.from([0x80, 0x02, 0x4b, 0x07, 0x2e])); // the int 7
    assert.throws(() => readVerificationBin(odd), /expected a pickled \(images, issame\) pair/);
  });
});
