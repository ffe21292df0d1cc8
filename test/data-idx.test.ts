// IDX parsing and Fashion-MNIST from Debian's package, held against numpy reading the same files.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { fashionMnistClasses, fashionMnistStats, findFashionMnistDir, loadFashionMnist, type FashionMnist } from '../src/data/fashion-mnist.js';
import { parseIdx, readIdxFile } from '../src/data/idx.js';
import { runPython, tempDir } from './helpers/python.js';

interface SplitReference {
  count: number;
  labels: number;
  first_labels: number[];
  histogram: number[];
  first_pixel_sums: number[];
  last_pixel_sum: number;
  pixel_sum: number;
  mean?: number;
  std?: number;
}

const PACKAGE_DIR = '/usr/share/datasets/fashion-mnist';

function pixelSum(data: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i];
  return sum;
}

function idxBytes(typeCode: number, shape: number[], body: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  header[2] = typeCode;
  header[3] = shape.length;
  shape.forEach((size, d) => view.setUint32(4 + 4 * d, size, false));
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

describe('Fashion-MNIST matches numpy reading the same files', () => {
  let reference: { train: SplitReference; test: SplitReference };
  const splits: Partial<Record<'train' | 'test', FashionMnist>> = {};
  before(() => {
    const dir = findFashionMnistDir();
    reference = JSON.parse(runPython('data_reference.py', ['fashion-mnist', dir]));
    splits.train = loadFashionMnist({ split: 'train' });
    splits.test = loadFashionMnist({ split: 'test' });
  });

  for (const split of ['train', 'test'] as const) {
    it(`${split}: sizes, labels and pixels`, () => {
      const dataset = splits[split]!;
      const expected = reference[split];
      assert.equal(dataset.length, split === 'train' ? 60000 : 10000);
      assert.equal(dataset.length, expected.count);
      assert.equal(dataset.labels.length, expected.labels);
      assert.deepEqual([dataset.channels, dataset.height, dataset.width], [1, 28, 28]);
      assert.deepEqual(dataset.classes, [...fashionMnistClasses]);
      assert.deepEqual(Array.from(dataset.labels.subarray(0, 20)), expected.first_labels);
      const histogram = new Array<number>(10).fill(0);
      for (const label of dataset.labels) histogram[label]++;
      assert.deepEqual(histogram, expected.histogram);
      for (let i = 0; i < 5; i++) {
        const { image, label } = dataset.get(i);
        assert.deepEqual([image.channels, image.height, image.width, image.data.length], [1, 28, 28, 784]);
        assert.equal(label, expected.first_labels[i]);
        assert.equal(pixelSum(image.data), expected.first_pixel_sums[i], `pixel sum of ${split} image ${i}`);
      }
      const last = dataset.get(dataset.length - 1);
      assert.equal(pixelSum(last.image.data), expected.last_pixel_sum);
      assert.equal(pixelSum(dataset.images), expected.pixel_sum);
    });
  }

  it('the first training label is 9 (Ankle boot)', () => {
    assert.equal(reference.train.first_labels[0], 9);
    assert.equal(splits.train!.classes[splits.train!.get(0).label], 'Ankle boot');
  });

  it('the published mean and std agree with the training pixels', () => {
    assert.ok(Math.abs(fashionMnistStats.mean[0] - reference.train.mean!) < 5e-4, `mean ${reference.train.mean}`);
    assert.ok(Math.abs(fashionMnistStats.std[0] - reference.train.std!) < 5e-4, `std ${reference.train.std}`);
  });

  it('out-of-range indices are refused', () => {
    assert.throws(() => splits.test!.get(10000), /index 10000 is out of range for 10000 samples/);
    assert.throws(() => splits.test!.get(-1), /out of range/);
  });
});

describe('finding the files', () => {
  const temp = tempDir('resnets-fmnist-');
  after(() => temp.cleanup());

  it('dpkg -L finds the package folder', () => {
    assert.equal(findFashionMnistDir(), PACKAGE_DIR);
  });

  it('a data folder overrides it, gzipped or not', () => {
    const dir = join(temp.path, 'copy');
    mkdirSync(dir);
    for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']) symlinkSync(join(PACKAGE_DIR, `${name}.gz`), join(dir, `${name}.gz`));
    copyFileSync(join(PACKAGE_DIR, 't10k-images-idx3-ubyte.gz'), join(dir, 't10k-images-idx3-ubyte.gz'));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), gunzipSync(readFileSync(join(PACKAGE_DIR, 't10k-labels-idx1-ubyte.gz'))));
    assert.equal(findFashionMnistDir(dir), dir);
    const test = loadFashionMnist({ split: 'test', dataDir: dir });
    assert.equal(test.length, 10000);
    assert.equal(test.dir, dir);
  });

  it('a data folder missing files names them', () => {
    const dir = join(temp.path, 'partial');
    mkdirSync(dir);
    symlinkSync(join(PACKAGE_DIR, 'train-images-idx3-ubyte.gz'), join(dir, 'train-images-idx3-ubyte.gz'));
    assert.throws(() => findFashionMnistDir(dir), /lacks train-labels-idx1-ubyte\.gz, t10k-images-idx3-ubyte\.gz, t10k-labels-idx1-ubyte\.gz/);
    assert.throws(() => loadFashionMnist({ split: 'train', dataDir: join(temp.path, 'nowhere') }), /does not exist/);
  });

  it('no installed package says how to install it', () => {
    assert.throws(() => findFashionMnistDir(undefined, []), /apt-get install dataset-fashion-mnist.*--data-dir/s);
    assert.throws(() => findFashionMnistDir(undefined, [join(temp.path, 'empty')]), /apt-get install dataset-fashion-mnist/);
  });

  it('a split other than train or test is refused', () => {
    assert.throws(() => loadFashionMnist({ split: 'val' as 'train' }), /split must be 'train' or 'test'/);
  });

  it('images and labels that disagree in count are refused', () => {
    const dir = join(temp.path, 'mismatch');
    mkdirSync(dir);
    for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-labels-idx1-ubyte']) symlinkSync(join(PACKAGE_DIR, `${name}.gz`), join(dir, `${name}.gz`));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idxBytes(0x08, [3, 28, 28], new Uint8Array(3 * 784)));
    assert.throws(() => loadFashionMnist({ split: 'test', dataDir: dir }), /3 images but 10000 labels/);
  });
});

describe('IDX parsing', () => {
  it('reads every element type big-endian', () => {
    const body = new Uint8Array(4 * 6);
    const view = new DataView(body.buffer);
    [-7, 0, 1, 65536, -2147483648, 2147483647].forEach((v, i) => view.setInt32(4 * i, v, false));
    const ints = parseIdx(idxBytes(0x0c, [2, 3], body));
    assert.equal(ints.dtype, 'int32');
    assert.deepEqual(ints.shape, [2, 3]);
    assert.deepEqual(Array.from(ints.data), [-7, 0, 1, 65536, -2147483648, 2147483647]);

    const floats = new Uint8Array(8 * 2);
    new DataView(floats.buffer).setFloat64(0, Math.PI, false);
    new DataView(floats.buffer).setFloat64(8, -0.25, false);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x0e, [2], floats)).data), [Math.PI, -0.25]);

    const singles = new Uint8Array(4);
    new DataView(singles.buffer).setFloat32(0, 1.5, false);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x0d, [1], singles)).data), [1.5]);

    const shorts = new Uint8Array(4);
    new DataView(shorts.buffer).setInt16(0, -300, false);
    new DataView(shorts.buffer).setInt16(2, 300, false);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x0b, [2], shorts)).data), [-300, 300]);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x09, [2], new Uint8Array([0xff, 0x05]))).data), [-1, 5]);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x08, [1, 2, 1], new Uint8Array([200, 3]))).data), [200, 3]);
  });

  it('malformed data gives clear errors', () => {
    const good = idxBytes(0x08, [2, 2], new Uint8Array([1, 2, 3, 4]));
    assert.throws(() => parseIdx(good.subarray(0, 3), 'x.idx'), /x\.idx: 3 bytes is too short/);
    assert.throws(() => parseIdx(Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0])), /not an IDX file \(it starts with 0x1F 0x8B/);
    assert.throws(() => parseIdx(idxBytes(0x0a, [1], new Uint8Array(1))), /unknown IDX type code 0x0A/);
    assert.throws(() => parseIdx(idxBytes(0x08, [], new Uint8Array(0))), /zero dimensions/);
    assert.throws(() => parseIdx(good.subarray(0, 9)), /truncated IDX header: 2 dimensions need 12 bytes, the file has 9/);
    assert.throws(() => parseIdx(good.subarray(0, 14)), /IDX data truncated: shape \[2, 2\] of uint8 needs 16 bytes, the file has 14/);
    const long = new Uint8Array(17);
    long.set(good);
    assert.throws(() => parseIdx(long), /has trailing bytes/);
  });

  it('files: gzip is detected, corrupt gzip and missing files are named', () => {
    const temp = tempDir('resnets-idx-');
    try {
      const good = idxBytes(0x08, [3], new Uint8Array([7, 8, 9]));
      writeFileSync(join(temp.path, 'plain'), good);
      writeFileSync(join(temp.path, 'packed.gz'), gzipSync(good));
      assert.deepEqual(Array.from(readIdxFile(join(temp.path, 'plain')).data), [7, 8, 9]);
      assert.deepEqual(Array.from(readIdxFile(join(temp.path, 'packed.gz')).data), [7, 8, 9]);
      const packed = gzipSync(good);
      writeFileSync(join(temp.path, 'cut.gz'), packed.subarray(0, packed.length - 6));
      assert.throws(() => readIdxFile(join(temp.path, 'cut.gz')), /cut\.gz: corrupt gzip data/);
      assert.throws(() => readIdxFile(join(temp.path, 'absent.gz')), /cannot read IDX file .*absent\.gz/);
    } finally {
      temp.cleanup();
    }
  });
});
