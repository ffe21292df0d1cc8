// RandAugment, TrivialAugment, ColorJitter and RandomErasing: every op against
// torchvision's tensor path on the same uint8 image, the magnitude tables against
// torchvision's, and the seeded, shape- and range-keeping behaviour of the policies.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { adjustHue, applyAugmentOp, colorJitter, randAugment, randAugmentSpace, randomErasing, trivialAugmentSpace, trivialAugmentWide, type AugmentOpName } from '../src/data/augment/index.js';
import type { Image } from '../src/data/image.js';
import { Random } from '../src/data/random.js';
import { trainTransform, type PreparedData } from '../src/train/data-setup.js';
import { runPython, tempDir } from './helpers/python.js';

function randomImage(height: number, width: number, channels: number, seed: number): Image {
  const random = new Random(seed);
  const data = new Uint8Array(height * width * channels);
  for (let i = 0; i < data.length; i++) data[i] = random.int(256);
  return { data, channels, height, width };
}

const image = randomImage(13, 17, 3, 3);
const grey = randomImage(9, 11, 1, 4);
const ops: [AugmentOpName, number][] = [
  ['ShearX', 0.3], ['ShearX', -0.21], ['ShearY', 0.5], ['ShearY', -0.99], ['TranslateX', 5.7], ['TranslateX', -3], ['TranslateY', 4],
  ['Rotate', 30], ['Rotate', -17.3], ['Rotate', 135], ['Brightness', 0.6], ['Brightness', -0.9], ['Color', 0.5], ['Color', -0.7],
  ['Contrast', 0.8], ['Contrast', -0.4], ['Sharpness', 0.9], ['Sharpness', -0.9], ['Posterize', 3], ['Posterize', 8], ['Solarize', 128.5],
  ['AutoContrast', 0], ['Equalize', 0], ['Identity', 0],
];
const hues = [0.1, -0.3, 0.5];

interface Reference {
  ops: number[][];
  hue: number[][];
  rand_augment: Record<string, number[]>;
  trivial_augment: Record<string, number[]>;
}
let reference: Reference;
let greyReference: Reference;

const nested = (im: Image) =>
  Array.from({ length: im.height }, (_, y) => Array.from({ length: im.width }, (_, x) => Array.from({ length: im.channels }, (_, c) => im.data[(y * im.width + x) * im.channels + c])));

before(() => {
  const temp = tempDir('resnets-augment-');
  try {
    const run = (im: Image, name: string) => {
      const file = join(temp.path, name);
      writeFileSync(file, JSON.stringify({ image: nested(im), ops, hue: im.channels === 3 ? hues : [], bins: 31, size: [im.height, im.width] }));
      return JSON.parse(runPython('augment_reference.py', [file])) as Reference;
    };
    reference = run(image, 'rgb.json');
    greyReference = run(grey, 'grey.json');
  } finally {
    temp.cleanup();
  }
});

function differences(actual: ArrayLike<number>, expected: number[]): { count: number; max: number } {
  assert.equal(actual.length, expected.length);
  let count = 0;
  let max = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (d > 0) count++;
    max = Math.max(max, d);
  }
  return { count, max };
}

describe('augmentation ops match torchvision', () => {
  for (const [label, source, ref] of [['RGB', image, () => reference], ['grey', grey, () => greyReference]] as const) {
    it(`every op on a ${label} image`, () => {
      ops.forEach(([op, magnitude], i) => {
        const { count, max } = differences(applyAugmentOp(source, op, magnitude).data, ref().ops[i]);
        // AutoContrast's float32 division can land one level apart from torch's vectorised one.
        const allowed = op === 'AutoContrast' ? { count: Math.ceil(source.data.length / 100), max: 1 } : { count: 0, max: 0 };
        assert.ok(count <= allowed.count && max <= allowed.max, `${op}(${magnitude}) on ${label}: ${count} values differ, by up to ${max}`);
      });
    });
  }

  it('hue shifts', () => {
    hues.forEach((factor, i) => assert.deepEqual(differences(adjustHue(image, factor).data, reference.hue[i]), { count: 0, max: 0 }, `hue ${factor}`));
  });

  it('magnitude tables of RandAugment and TrivialAugment Wide', () => {
    for (const [ours, theirs] of [[randAugmentSpace(31, [image.height, image.width]), reference.rand_augment], [trivialAugmentSpace(31), reference.trivial_augment]] as const) {
      assert.deepEqual(Object.keys(ours), Object.keys(theirs), 'the same ops in the same order (the draw indexes them)');
      for (const [op, { magnitudes }] of Object.entries(ours)) {
        const expected = theirs[op];
        assert.equal(magnitudes.length, expected.length, op);
        // torch's vectorised linspace rounds a few entries one float32 step differently.
        magnitudes.forEach((m, i) => assert.ok(Math.abs(m - expected[i]) <= 1e-6 * Math.max(1, Math.abs(expected[i])), `${op}[${i}]: ${m} vs ${expected[i]}`));
      }
    }
  });
});

describe('augmentation policies', () => {
  it('the magnitude-0 bin of every magnitude op is the identity', () => {
    const space = randAugmentSpace(31, [image.height, image.width]);
    const identityAtZero: AugmentOpName[] = ['ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate', 'Brightness', 'Color', 'Contrast', 'Sharpness', 'Posterize'];
    for (const op of identityAtZero) {
      assert.deepEqual(applyAugmentOp(image, op, space[op].magnitudes[0]).data, image.data, op);
      assert.deepEqual(applyAugmentOp(image, op, trivialAugmentSpace(31)[op].magnitudes[0]).data, image.data, `${op} (TrivialAugment)`);
    }
  });

  it('RandAugment and TrivialAugment repeat with the same stream, keep the shape and stay uint8', () => {
    for (const transform of [randAugment(), randAugment({ numOps: 3, magnitude: 15 }), trivialAugmentWide()]) {
      const outputs = Array.from({ length: 12 }, (_, seed) => transform(image, new Random(seed)));
      outputs.forEach((out, seed) => {
        assert.deepEqual(out.data, transform(image, new Random(seed)).data, `seed ${seed} repeats`);
        assert.deepEqual([out.height, out.width, out.channels], [image.height, image.width, image.channels]);
        assert.ok(out.data instanceof Uint8Array);
      });
      const distinct = new Set(outputs.map((out) => Buffer.from(out.data).toString('base64')));
      assert.ok(distinct.size > 4, `different streams draw different ops (${distinct.size} distinct of 12)`);
    }
    assert.deepEqual(randAugment({ numOps: 0 })(image, new Random(1)).data, image.data, 'no ops: the image itself');
  });

  it('rejects bad settings and float pixels', () => {
    assert.throws(() => randAugment({ magnitude: 31 }), /magnitude must be an integer bin in \[0, 30\], got 31/);
    assert.throws(() => randAugment({ numOps: -1 }), /numOps/);
    assert.throws(() => applyAugmentOp({ ...image, data: new Float32Array(image.data.length) }, 'Brightness', 0.5), /uint8 images/);
    assert.throws(() => applyAugmentOp(image, 'Blur' as AugmentOpName, 1), /unknown augmentation op 'Blur'/);
  });

  it('ColorJitter: zero strengths are the identity; draws repeat per stream', () => {
    assert.deepEqual(colorJitter({})(image, new Random(1)).data, image.data);
    const jitter = colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 });
    const a = jitter(image, new Random(5));
    assert.deepEqual(a.data, jitter(image, new Random(5)).data);
    assert.notDeepEqual(a.data, image.data);
    assert.notDeepEqual(a.data, jitter(image, new Random(6)).data);
    assert.throws(() => colorJitter({ hue: 0.6 }), /hue must be in \[0, 0.5\]/);
  });
});

describe('RandomErasing', () => {
  const shape = [3, 20, 24] as const;
  const pixels = () => Float32Array.from({ length: 3 * 20 * 24 }, (_, i) => 1 + (i % 7));

  it('erases one rectangle of the allowed area with the value, or nothing', () => {
    let erasedRuns = 0;
    for (let seed = 0; seed < 20; seed++) {
      const data = pixels();
      randomErasing({ p: 1, value: [0, -1, -2] })(data, shape, new Random(seed));
      const plane = 20 * 24;
      const erased = [0, 1, 2].map((c) => data.subarray(c * plane, (c + 1) * plane).filter((v) => v === -c || (c === 0 && v === 0)).length);
      assert.equal(erased[0], erased[1]);
      assert.equal(erased[1], erased[2]);
      if (erased[0] === 0) continue;
      erasedRuns++;
      const share = erased[0] / plane;
      assert.ok(share >= 0.01 && share <= 0.36, `erased share ${share} is near [0.02, 0.33]`);
      // The erased pixels form a rectangle: their bounding box holds exactly as many.
      const rows = new Set<number>();
      const columns = new Set<number>();
      for (let p = 0; p < plane; p++) if (data[plane + p] === -1) (rows.add(Math.floor(p / 24)), columns.add(p % 24));
      assert.equal(rows.size * columns.size, erased[1]);
    }
    assert.ok(erasedRuns >= 15, `p = 1 erases almost always (${erasedRuns} of 20)`);
    const untouched = pixels();
    randomErasing({ p: 0 })(untouched, shape, new Random(1));
    assert.deepEqual(untouched, pixels());
  });

  it('random values are normal noise, and the same stream erases the same way', () => {
    const a = pixels();
    const b = pixels();
    randomErasing({ p: 1, value: 'random' })(a, shape, new Random(9));
    randomErasing({ p: 1, value: 'random' })(b, shape, new Random(9));
    assert.deepEqual(a, b);
    const noise = a.filter((v) => !Number.isInteger(v));
    assert.ok(noise.length > 0);
    const mean = noise.reduce((s, v) => s + v, 0) / noise.length;
    assert.ok(Math.abs(mean) < 0.5, `noise mean ${mean}`);
    assert.throws(() => randomErasing({ p: 2 }), /p must be in \[0, 1\]/);
  });
});

describe('training transforms of aligned crops', () => {
  const aligned = { kind: 'image-folder', classes: ['a'], inputShape: [3, 8, 8], skipped: [], description: '', aligned: true } as PreparedData;
  const face = randomImage(8, 8, 3, 5);
  const mirrored: Image = { ...face, data: new Uint8Array(face.data.length) };
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) for (let c = 0; c < 3; c++) mirrored.data[(y * 8 + x) * 3 + c] = face.data[(y * 8 + 7 - x) * 3 + c];
  const same = (a: Image, b: Image) => Buffer.from(a.data).equals(Buffer.from(b.data));

  it('are resized and flipped, never cropped; the recipe comes after', () => {
    const plain = trainTransform(aligned, true)!;
    const outputs = Array.from({ length: 20 }, (_, seed) => plain(face, new Random(seed)));
    assert.ok(!same(face, mirrored));
    assert.ok(outputs.every((out) => same(out, face) || same(out, mirrored)), 'only the image or its mirror');
    assert.ok(outputs.some((out) => same(out, mirrored)) && outputs.some((out) => same(out, face)), 'flipped about half the time');
    const jittered = trainTransform(aligned, true, { colorJitter: 0.5 })!;
    const withRecipe = Array.from({ length: 20 }, (_, seed) => jittered(face, new Random(seed)));
    assert.ok(withRecipe.every((out) => out.height === 8 && out.width === 8));
    assert.ok(withRecipe.some((out) => !same(out, face) && !same(out, mirrored)), 'ColorJitter changes the pixels after the flip');
  });
});
