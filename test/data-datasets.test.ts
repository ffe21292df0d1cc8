// CIFAR-10 and CIFAR-100 from files written here in the binary release's format, MNIST
// from IDX files written here, and the stratified validation split of a folder.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadCifar } from '../src/data/cifar.js';
import { loadMnist } from '../src/data/mnist.js';
import { stratifiedSplit } from '../src/data/split.js';
import { prepareData } from '../src/train/data-setup.js';
import { cifar10Names, cifarRecords, writeCifar10 } from './helpers/cifar-files.js';
import { tempDir } from './helpers/python.js';

describe('CIFAR binary release', () => {
  it('CIFAR-10: five training batches and a test batch, planar RGB to HWC, names from batches.meta.txt', async () => {
    const dir = tempDir('resnets-cifar10-');
    try {
      const root = join(dir.path, 'cifar-10-batches-bin');
      const { trainImages, trainLabels, testImages } = writeCifar10(root, 2, 3);
      const names = cifar10Names;

      // The folder holding the unpacked one works as well as the unpacked one.
      const train = loadCifar('cifar10', { split: 'train', dataDir: dir.path });
      assert.equal(train.length, 10);
      assert.deepEqual(train.classes, names);
      assert.deepEqual([train.height, train.width, train.channels], [32, 32, 3]);
      for (let i = 0; i < 10; i++) {
        const sample = train.get(i);
        assert.equal(sample.label, trainLabels[i]);
        assert.deepEqual(sample.image.data, trainImages[i], `image ${i}`);
      }
      const testSet = loadCifar('cifar10', { split: 'test', dataDir: root });
      assert.deepEqual([0, 1, 2].map((i) => testSet.get(i).label), [0, 7, 4]);
      assert.deepEqual(testSet.get(2).image.data, testImages[2]);

      const prepared = await prepareData({ data: 'cifar10', dataDir: dir.path, limitTest: 2 }, { train: true, test: true });
      assert.deepEqual(prepared.inputShape, [3, 32, 32]);
      assert.equal(prepared.test!.length, 2);
      assert.match(prepared.description, /CIFAR-10: 10 training and 2 test images, 32x32 RGB, 10 classes/);

      writeFileSync(join(root, 'test_batch.bin'), new Uint8Array(3000));
      assert.throws(() => loadCifar('cifar10', { split: 'test', dataDir: root }), /3000 bytes is not a whole number of 3073-byte CIFAR-10 records/);
      assert.throws(() => loadCifar('cifar10', { split: 'train', dataDir: join(dir.path, 'nope') }), /data folder .*nope does not exist/);
      assert.throws(() => loadCifar('cifar10', { split: 'train', dataDir: root, labels: 'coarse' }), /CIFAR-10 has one set of labels/);
    } finally {
      dir.cleanup();
    }
  });

  it('CIFAR-100: coarse then fine label bytes; fine or coarse classes', async () => {
    const dir = tempDir('resnets-cifar100-');
    try {
      const fine = Array.from({ length: 100 }, (_, i) => `fine_${i}`);
      const coarse = Array.from({ length: 20 }, (_, i) => `coarse_${i}`);
      writeFileSync(join(dir.path, 'fine_label_names.txt'), fine.join('\n'));
      writeFileSync(join(dir.path, 'coarse_label_names.txt'), coarse.join('\n'));
      const pairs = [[3, 41], [19, 99], [0, 7], [11, 58]];
      const train = cifarRecords(pairs, 5);
      writeFileSync(join(dir.path, 'train.bin'), train.bytes);
      writeFileSync(join(dir.path, 'test.bin'), cifarRecords([[1, 2]], 6).bytes);
      const byFine = loadCifar('cifar100', { split: 'train', dataDir: dir.path });
      assert.equal(byFine.classes.length, 100);
      assert.deepEqual(pairs.map((_, i) => byFine.get(i).label), [41, 99, 7, 58]);
      assert.deepEqual(Array.from(byFine.coarseLabels!), [3, 19, 0, 11]);
      assert.deepEqual(byFine.get(3).image.data, train.hwc[3]);
      const byCoarse = loadCifar('cifar100', { split: 'train', dataDir: dir.path, labels: 'coarse' });
      assert.deepEqual(byCoarse.classes, coarse);
      assert.deepEqual(pairs.map((_, i) => byCoarse.get(i).label), [3, 19, 0, 11]);
      const prepared = await prepareData({ data: 'cifar100', dataDir: dir.path, cifar100Labels: 'coarse' }, { train: true, test: 'if-present' });
      assert.equal(prepared.classes.length, 20);
      assert.equal(prepared.test!.get(0).label, 1);
      await assert.rejects(prepareData({ data: 'cifar10', dataDir: dir.path, cifar100Labels: 'coarse' }, { train: true, test: false }), /applies to cifar100 only/);
      // Choosing classes by index works for every built-in set: kept in the order given, relabelled 0, 1, ...
      const chosen = await prepareData({ data: 'cifar100', dataDir: dir.path, cifar100Labels: 'coarse', classes: [19, 3] }, { train: true, test: false });
      assert.deepEqual(chosen.classes, ['coarse_19', 'coarse_3']);
      assert.deepEqual([0, 1].map((i) => chosen.train!.get(i).label), [1, 0]);
      assert.equal(chosen.train!.length, 2);
      await assert.rejects(prepareData({ data: 'cifar100', dataDir: dir.path, cifar100Labels: 'coarse', classes: [20] }, { train: true, test: false }), /class 20 is outside 0\.\.19/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('MNIST from IDX files', () => {
  it('reads the four files (gzipped or not) through the shared IDX image-set reader', async () => {
    const dir = tempDir('resnets-mnist-');
    try {
      const idx = (typeCode: number, shape: number[], body: Uint8Array) => {
        const header = new Uint8Array(4 + 4 * shape.length);
        header[2] = typeCode;
        header[3] = shape.length;
        const view = new DataView(header.buffer);
        shape.forEach((size, d) => view.setUint32(4 + 4 * d, size, false));
        return Buffer.concat([header, body]);
      };
      const pixels = (n: number, seed: number) => Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * seed) % 256);
      writeFileSync(join(dir.path, 'train-images-idx3-ubyte.gz'), gzipSync(idx(8, [3, 28, 28], pixels(3, 7))));
      writeFileSync(join(dir.path, 'train-labels-idx1-ubyte.gz'), gzipSync(idx(8, [3], Uint8Array.from([5, 0, 4]))));
      writeFileSync(join(dir.path, 't10k-images-idx3-ubyte'), idx(8, [2, 28, 28], pixels(2, 3)));
      writeFileSync(join(dir.path, 't10k-labels-idx1-ubyte'), idx(8, [2], Uint8Array.from([7, 2])));
      const train = loadMnist({ split: 'train', dataDir: dir.path });
      assert.deepEqual([0, 1, 2].map((i) => train.get(i).label), [5, 0, 4]);
      assert.deepEqual(train.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      assert.deepEqual(train.get(1).image.data, pixels(3, 7).subarray(784, 1568));
      const prepared = await prepareData({ data: 'mnist', dataDir: dir.path }, { train: true, test: true });
      assert.match(prepared.description, /MNIST: 3 training and 2 test images, 28x28 grey, 10 classes/);
      assert.equal(prepared.test!.get(1).label, 2);
      await assert.rejects(prepareData({ data: 'mnist' }, { train: true, test: false }), /MNIST: give the folder of its IDX files/);
      await assert.rejects(prepareData({ data: 'mnist', dataDir: join(dir.path, 'x') }, { train: true, test: false }), /MNIST: data folder .* does not exist/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('validation split', () => {
  it('stratified and seeded: each class gives its share, the same seed the same images', () => {
    const labels = [...Array(20).fill(0), ...Array(10).fill(1), ...Array(3).fill(2), 3];
    const split = stratifiedSplit(labels, 0.2, 7);
    const count = (indices: number[], c: number) => indices.filter((i) => labels[i] === c).length;
    assert.deepEqual([0, 1, 2, 3].map((c) => count(split.validation, c)), [4, 2, 1, 0]);
    assert.equal(split.train.length + split.validation.length, labels.length);
    assert.equal(new Set([...split.train, ...split.validation]).size, labels.length);
    assert.deepEqual(stratifiedSplit(labels, 0.2, 7), split);
    assert.notDeepEqual(stratifiedSplit(labels, 0.2, 8).validation, split.validation);
    assert.throws(() => stratifiedSplit(labels, 1, 0), /between 0 and 1/);
  });

  it('a folder without a test split is evaluated on its held-out part; a split folder refuses --val-split', async () => {
    const dir = tempDir('resnets-valsplit-');
    try {
      for (const name of ['cat', 'dog']) {
        mkdirSync(join(dir.path, name));
        for (let i = 0; i < 10; i++) {
          await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: i * 20, g: 10, b: 0 } } }).png().toFile(join(dir.path, name, `${i}.png`));
        }
      }
      const prepared = await prepareData({ data: dir.path, imageSize: 8, valSplit: 0.3, validationSeed: 1 }, { train: true, test: 'if-present' });
      assert.equal(prepared.train!.length, 14);
      assert.equal(prepared.test!.length, 6);
      assert.match(prepared.description, /held out: 30% of each class, seed 1/);
      const labels = await Promise.all(Array.from({ length: 6 }, async (_, i) => (await prepared.test!.get(i)).label));
      assert.deepEqual(labels.sort(), [0, 0, 0, 1, 1, 1]);
      const evalOnly = await prepareData({ data: dir.path, imageSize: 8, valSplit: 0.3, validationSeed: 1 }, { train: false, test: true });
      assert.equal(evalOnly.test!.length, 6, 'eval sees the same held-out images');
      mkdirSync(join(dir.path, 'split', 'train', 'a'), { recursive: true });
      mkdirSync(join(dir.path, 'split', 'val', 'a'), { recursive: true });
      await assert.rejects(prepareData({ data: join(dir.path, 'split'), valSplit: 0.2 }, { train: true, test: 'if-present' }), /leave out --val-split/);
      await assert.rejects(prepareData({ data: 'cifar10', valSplit: 0.2 }, { train: true, test: 'if-present' }), /has its own test set/);
    } finally {
      dir.cleanup();
    }
  });
});
