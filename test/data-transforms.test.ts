// Transforms: shapes, seeded determinism, pixel-exact crops and flips, bilinear resizing
// against torch's interpolate, and normalisation against torchvision.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Image } from '../src/data/image.js';
import { imagesToTensor, normalize, stackImages, writeChw } from '../src/data/normalize.js';
import { Random } from '../src/data/random.js';
import { centerCrop, compose, randomCrop, randomHorizontalFlip, randomResizedCrop, resize } from '../src/data/transforms.js';
import { runPython, tempDir } from './helpers/python.js';

function patterned(height: number, width: number, channels: number, seed = 1): Image {
  const random = new Random(seed);
  const data = new Uint8Array(height * width * channels);
  for (let i = 0; i < data.length; i++) data[i] = 1 + random.int(255); // never 0, so padding shows
  return { data, channels, height, width };
}

function asFloat(image: Image): Image {
  return { ...image, data: Float32Array.from(image.data, (v) => v / 255) };
}

const pixel = (image: Image, y: number, x: number, c: number) => image.data[(y * image.width + x) * image.channels + c];

function nested(image: Image): number[][][] {
  return Array.from({ length: image.height }, (_, y) => Array.from({ length: image.width }, (_, x) => Array.from({ length: image.channels }, (_, c) => pixel(image, y, x, c))));
}

// Every torch/torchvision figure comes from one run of the reference script.
const resizeSource = asFloat(patterned(20, 30, 3, 5));
const resizeSizes = [[7, 11], [12, 45], [20, 13]] as const;
const cropSource = asFloat(patterned(24, 32, 3, 6));
const normalizeImage = patterned(4, 5, 3, 8);
const imagenet = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
let torchResized: number[][];
let torchFallback: number[];
let torchNormalized: { chw: number[]; shape: number[] };

before(() => {
  const temp = tempDir('resnets-transforms-');
  try {
    const file = join(temp.path, 'spec.json');
    writeFileSync(
      file,
      JSON.stringify({
        resize: [
          ...resizeSizes.map((size) => ({ image: nested(resizeSource), size })),
          { image: nested(cropSource), size: [6, 6], box: [0, 4, 24, 24] },
        ],
        normalize: [{ image: nested(normalizeImage), ...imagenet }],
      }),
    );
    const result = JSON.parse(runPython('data_reference.py', ['transforms', file])) as {
      resize: { image: number[][][] }[];
      normalize: { chw: number[]; shape: number[] }[];
    };
    const flat = result.resize.map((r) => r.image.flat(2));
    torchResized = flat.slice(0, resizeSizes.length);
    torchFallback = flat[resizeSizes.length];
    torchNormalized = result.normalize[0];
  } finally {
    temp.cleanup();
  }
});

describe('Random', () => {
  it('int stays in range and covers it; shuffle permutes', () => {
    const random = new Random(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = random.int(10);
      assert.ok(Number.isInteger(v) && v >= 0 && v < 10);
      seen.add(v);
    }
    assert.equal(seen.size, 10);
    const values = random.shuffle(Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual([...values].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
    assert.notDeepEqual(values, Array.from({ length: 50 }, (_, i) => i));
    for (let i = 0; i < 100; i++) {
      const u = random.uniform(-2, 3);
      assert.ok(u >= -2 && u < 3);
    }
    assert.throws(() => random.int(0), /n must be an integer/);
    assert.throws(() => new Random(-1), /non-negative integer/);
  });

  it('streams depend only on (seed, epoch, index)', () => {
    const draws = (r: Random) => Array.from({ length: 8 }, () => r.nextUint32());
    assert.deepEqual(draws(Random.forSample(3, 1, 42)), draws(Random.forSample(3, 1, 42)));
    assert.notDeepEqual(draws(Random.forSample(3, 1, 42)), draws(Random.forSample(3, 1, 43)));
    assert.notDeepEqual(draws(Random.forSample(3, 1, 42)), draws(Random.forSample(3, 2, 42)));
    assert.notDeepEqual(draws(Random.forSample(3, 1, 42)), draws(Random.forSample(4, 1, 42)));
    assert.notDeepEqual(draws(Random.forEpoch(3, 1)), draws(Random.forSample(3, 1, 0)));
    // Seeds above 2^32 are distinct, not wrapped.
    assert.notDeepEqual(draws(new Random(2 ** 32 + 5)), draws(new Random(5)));
  });
});

describe('crops and flips', () => {
  const image = patterned(28, 28, 1);
  const rgb = patterned(9, 12, 3, 2);

  it('randomCrop with padding keeps the size and is a shifted window of the padded image', () => {
    const transform = randomCrop(28, { padding: 4 });
    const offsets = new Set<string>();
    for (let index = 0; index < 1500; index++) {
      const out = transform(image, Random.forSample(0, 0, index));
      assert.deepEqual([out.channels, out.height, out.width], [1, 28, 28]);
      // Find the shift that explains every output pixel (0 where it falls in the padding).
      let match: string | undefined;
      for (let dy = -4; dy <= 4 && !match; dy++) {
        for (let dx = -4; dx <= 4 && !match; dx++) {
          let ok = true;
          for (let y = 0; y < 28 && ok; y++) {
            for (let x = 0; x < 28 && ok; x++) {
              const sy = y + dy;
              const sx = x + dx;
              const expected = sy >= 0 && sy < 28 && sx >= 0 && sx < 28 ? pixel(image, sy, sx, 0) : 0;
              ok = pixel(out, y, x, 0) === expected;
            }
          }
          if (ok) match = `${dy},${dx}`;
        }
      }
      assert.ok(match, `crop ${index} is not a shifted window`);
      offsets.add(match);
    }
    assert.equal(offsets.size, 81, 'every one of the 9x9 shifts occurs');
  });

  it('randomCrop without padding on a 3-channel image, and a crop too large', () => {
    const out = randomCrop([5, 7])(rgb, new Random(1));
    assert.deepEqual([out.channels, out.height, out.width], [3, 5, 7]);
    assert.throws(() => randomCrop(10)(rgb, new Random(1)), /crop 10x10 is larger than the padded image 9x12/);
    assert.deepEqual(nested(randomCrop(9)(rgb, new Random(4))).length, 9);
    assert.throws(() => randomCrop(0), /size must be a positive integer/);
  });

  it('horizontal flip is a mirror, and p = 0 / 1 are never / always', () => {
    const flipped = randomHorizontalFlip(1)(rgb, new Random(1));
    for (let y = 0; y < rgb.height; y++) {
      for (let x = 0; x < rgb.width; x++) {
        for (let c = 0; c < 3; c++) assert.equal(pixel(flipped, y, x, c), pixel(rgb, y, rgb.width - 1 - x, c));
      }
    }
    assert.equal(randomHorizontalFlip(0)(rgb, new Random(1)), rgb);
    let flips = 0;
    for (let index = 0; index < 2000; index++) if (randomHorizontalFlip()(rgb, Random.forSample(0, 0, index)) !== rgb) flips++;
    assert.ok(flips > 850 && flips < 1150, `${flips} flips of 2000`);
    assert.deepEqual(rgb.data, randomHorizontalFlip(1)(flipped, new Random(0)).data);
  });

  it('centerCrop takes the middle (offsets rounded as torchvision) and pads a larger window', () => {
    const odd = patterned(7, 6, 1, 3);
    const out = centerCrop([4, 3])(odd, new Random(0));
    // (7-4)/2 = 1.5 and (6-3)/2 = 1.5 both round to 2, as Python's round() does.
    for (let y = 0; y < 4; y++) for (let x = 0; x < 3; x++) assert.equal(pixel(out, y, x, 0), pixel(odd, y + 2, x + 2, 0));
    const even = centerCrop(24)(image, new Random(0));
    assert.equal(pixel(even, 0, 0, 0), pixel(image, 2, 2, 0));
    const padded = centerCrop([9, 10])(odd, new Random(0));
    assert.deepEqual([padded.height, padded.width], [9, 10]);
    assert.equal(pixel(padded, 0, 0, 0), 0);
    assert.equal(pixel(padded, 1, 2, 0), pixel(odd, 0, 0, 0));
    assert.equal(pixel(padded, 7, 7, 0), pixel(odd, 6, 5, 0));
    assert.equal(pixel(padded, 8, 9, 0), 0);
  });

  it('a composed pipeline is deterministic given the stream', () => {
    const pipeline = compose([randomResizedCrop(20), randomCrop(16, { padding: 2 }), randomHorizontalFlip()]);
    const a = pipeline(rgb, Random.forSample(9, 3, 17));
    const b = pipeline(rgb, Random.forSample(9, 3, 17));
    assert.deepEqual(a, b);
    assert.deepEqual([a.channels, a.height, a.width], [3, 16, 16]);
    const others = Array.from({ length: 5 }, (_, i) => pipeline(rgb, Random.forSample(9, 3, 18 + i)));
    assert.ok(others.some((o) => !Buffer.from(o.data).equals(Buffer.from(a.data))), 'other samples get other augmentations');
  });
});

describe('resizing', () => {
  it('matches torch.nn.functional.interpolate(bilinear, antialias=True) up and down', () => {
    resizeSizes.forEach(([height, width], job) => {
      const ours = resize([height, width])(resizeSource, new Random(0));
      assert.deepEqual([ours.height, ours.width, ours.channels], [height, width, 3]);
      let worst = 0;
      torchResized[job].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ours.data[i]))));
      assert.ok(worst < 1e-5, `${height}x${width}: max difference ${worst}`);
    });
  });

  it('a number sets the shorter side, as torchvision Resize(int)', () => {
    const wide = patterned(28, 40, 1);
    const out = resize(14)(wide, new Random(0));
    assert.deepEqual([out.height, out.width], [14, 20]);
    const tall = resize(10)(patterned(33, 21, 3), new Random(0));
    assert.deepEqual([tall.height, tall.width], [15, 10]);
    assert.equal(resize(28)(wide, new Random(0)), wide, 'already the size: unchanged');
    const up = resize(56)(wide, new Random(0));
    assert.ok(up.data instanceof Uint8Array);
    assert.deepEqual([up.height, up.width], [56, 80]);
  });

  it('randomResizedCrop resamples a window as interpolate does on the crop', () => {
    const source = cropSource;
    const transform = randomResizedCrop([10, 12], { scale: [0.2, 0.6] });
    const out = transform(source, Random.forSample(1, 0, 3));
    assert.deepEqual([out.height, out.width, out.channels], [10, 12, 3]);
    // The whole image at scale 1 and ratio of the image itself is a plain resize.
    const full = randomResizedCrop([10, 12], { scale: [1, 1], ratio: [32 / 24, 32 / 24] })(source, new Random(2));
    assert.deepEqual(full.data, resize([10, 12])(source, new Random(0)).data);
    // An impossible ratio falls back to the central window within the ratio range.
    const fallback = randomResizedCrop([6, 6], { scale: [1, 1], ratio: [1, 1] })(source, new Random(3));
    torchFallback.forEach((v, i) => assert.ok(Math.abs(v - fallback.data[i]) < 1e-5));
    assert.throws(() => randomResizedCrop(8, { scale: [0.5, 0.2] }), /scale must satisfy/);
  });
});

describe('normalisation into NCHW floats', () => {
  it('matches torchvision to_tensor + normalize', () => {
    const { data, shape } = stackImages([normalizeImage], normalize(imagenet.mean, imagenet.std));
    assert.deepEqual(shape, [1, 3, 4, 5]);
    assert.deepEqual(torchNormalized.shape, [3, 4, 5]);
    torchNormalized.chw.forEach((v, i) => assert.ok(Math.abs(v - data[i]) < 1e-5, `value ${i}: ${data[i]} vs ${v}`));
  });

  it('is (x / 255 - mean) / std per channel, with one value broadcast over channels', () => {
    const image = patterned(3, 2, 2, 9);
    const out = new Float32Array(2 * 12);
    writeChw(image, out, 12, normalize([0.5, 0.25], [0.5, 2]));
    for (let c = 0; c < 2; c++) {
      for (let y = 0; y < 3; y++) {
        for (let x = 0; x < 2; x++) {
          const expected = (pixel(image, y, x, c) / 255 - [0.5, 0.25][c]) / [0.5, 2][c];
          assert.ok(Math.abs(out[12 + c * 6 + y * 2 + x] - expected) < 1e-6);
        }
      }
    }
    assert.ok(out.subarray(0, 12).every((v) => v === 0), 'writes only from the offset');
    const gray = patterned(2, 2, 1, 10);
    const single = stackImages([gray], normalize([0.2860], [0.3530])).data;
    single.forEach((v, i) => assert.ok(Math.abs(v - (gray.data[i] / 255 - 0.286) / 0.353) < 1e-6));
    const plain = stackImages([asFloat(gray)]).data;
    plain.forEach((v, i) => assert.ok(Math.abs(v - gray.data[i] / 255) < 1e-7), 'float pixels are taken as 0..1');
  });

  it('bad parameters and mixed sizes are refused', () => {
    assert.throws(() => normalize([0.5], [0]), /std values must be positive/);
    assert.throws(() => normalize([0.5, 0.5], [1]), /same, non-zero number/);
    assert.throws(() => stackImages([patterned(2, 2, 3)], normalize([0.1, 0.2], [1, 1])), /2 mean\/std values for an image with 3 channels/);
    assert.throws(() => stackImages([patterned(2, 2, 1), patterned(2, 3, 1)]), /image 1 is 1x2x3 but image 0 is 1x2x2/);
    assert.throws(() => stackImages([{ data: new Uint8Array(3), channels: 1, height: 2, width: 2 }]), /4/);
  });

  it('imagesToTensor gives an NCHW float32 tensor', () => {
    const images = [patterned(3, 4, 3, 11), patterned(3, 4, 3, 12)];
    const tensor = imagesToTensor(images);
    try {
      assert.deepEqual(tensor.shape, [2, 3, 3, 4]);
      assert.equal(tensor.dtype, 'float32');
      const values = tensor.toTypedArray() as Float32Array;
      assert.ok(Math.abs(values[12 * 3 + 12 + 4 + 1] - pixel(images[1], 1, 1, 1) / 255) < 1e-7);
    } finally {
      tensor.dispose();
    }
  });
});
