// The loader: seeded order, batching, resuming mid-epoch, read-ahead, errors, and no leaks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dataset, Sample } from '../src/data/dataset.js';
import { subset } from '../src/data/dataset.js';
import { fashionMnistStats, loadFashionMnist } from '../src/data/fashion-mnist.js';
import { InMemoryDataset } from '../src/data/in-memory.js';
import { DataLoader, type Batch } from '../src/data/loader.js';
import { compose, randomCrop, randomHorizontalFlip } from '../src/data/transforms.js';
import { memory } from '../src/torch/runtime.js';

/** n 2x2 grey images whose pixels all equal their index; label = index % 3. */
function numbered(n: number): InMemoryDataset {
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images.fill(i, i * 4, i * 4 + 4);
  return new InMemoryDataset({ images, labels: Array.from({ length: n }, (_, i) => i % 3), height: 2, width: 2, channels: 1, classes: ['a', 'b', 'c'] });
}

interface Plain {
  indices: number[];
  labels: number[];
  images: number[];
  shape: number[];
}

function plain(batch: Batch): Plain {
  const out = {
    indices: batch.indices,
    labels: Array.from(batch.labels.toTypedArray() as BigInt64Array, Number),
    images: Array.from(batch.images.toTypedArray() as Float32Array),
    shape: batch.images.shape,
  };
  assert.equal(batch.labels.dtype, 'int64');
  assert.equal(batch.images.dtype, 'float32');
  batch.images.dispose();
  batch.labels.dispose();
  return out;
}

async function collect(loader: DataLoader, epoch: number, startBatch = 0): Promise<Plain[]> {
  const out: Plain[] = [];
  for await (const batch of loader.batches(epoch, { startBatch })) out.push(plain(batch));
  return out;
}

describe('order and batching', () => {
  const dataset = numbered(10);

  it('without shuffling: dataset order, images and labels in place, last batch kept', async () => {
    const batches = await collect(new DataLoader(dataset, { batchSize: 4 }), 0);
    assert.deepEqual(batches.map((b) => b.indices), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    assert.deepEqual(batches.map((b) => b.shape), [[4, 1, 2, 2], [4, 1, 2, 2], [2, 1, 2, 2]]);
    for (const batch of batches) {
      batch.indices.forEach((index, i) => {
        assert.equal(batch.labels[i], index % 3);
        for (let p = 0; p < 4; p++) assert.ok(Math.abs(batch.images[i * 4 + p] - index / 255) < 1e-7);
      });
    }
  });

  it('dropLast leaves out the partial batch', async () => {
    const loader = new DataLoader(dataset, { batchSize: 4, dropLast: true });
    assert.equal(loader.numBatches(), 2);
    assert.deepEqual((await collect(loader, 0)).map((b) => b.indices.length), [4, 4]);
    assert.equal(new DataLoader(dataset, { batchSize: 4 }).numBatches(), 3);
    assert.equal(new DataLoader(dataset, { batchSize: 5, dropLast: true }).numBatches(), 2);
  });

  it('a seeded shuffle repeats, changes with the epoch and the seed, and is a permutation', async () => {
    const a = new DataLoader(dataset, { batchSize: 3, shuffle: true, seed: 11 });
    const b = new DataLoader(dataset, { batchSize: 3, shuffle: true, seed: 11 });
    const epoch0 = (await collect(a, 0)).flatMap((x) => x.indices);
    assert.deepEqual(epoch0, (await collect(b, 0)).flatMap((x) => x.indices));
    assert.deepEqual([...epoch0].sort((x, y) => x - y), Array.from({ length: 10 }, (_, i) => i));
    assert.notDeepEqual(epoch0, Array.from({ length: 10 }, (_, i) => i));
    assert.deepEqual(epoch0, a.order(0));
    assert.notDeepEqual(a.order(0), a.order(1));
    assert.notDeepEqual(a.order(0), new DataLoader(dataset, { batchSize: 3, shuffle: true, seed: 12 }).order(0));
    assert.deepEqual(a.order(5), b.order(5), 'an epoch order depends only on (seed, epoch)');
    assert.deepEqual(a.batchIndices(3, 1), a.order(3).slice(3, 6));
  });

  it('startBatch resumes with the same batches, augmentation included', async () => {
    const fmnist = subset(loadFashionMnist({ split: 'test' }), Array.from({ length: 200 }, (_, i) => i * 7));
    const options = { batchSize: 32, shuffle: true, seed: 5, transform: compose([randomCrop(28, { padding: 4 }), randomHorizontalFlip()]) };
    const full = await collect(new DataLoader(fmnist, options), 2);
    const resumed = await collect(new DataLoader(fmnist, options), 2, 4);
    assert.equal(full.length, 7);
    assert.deepEqual(resumed, full.slice(4));
    assert.deepEqual(await collect(new DataLoader(fmnist, options), 2, 7), []);
    const otherEpoch = await collect(new DataLoader(fmnist, options), 3);
    assert.notDeepEqual(otherEpoch[0].images, full[0].images);
  });

  it('a batch larger than the data: one partial batch, or an error with dropLast', async () => {
    const batches = await collect(new DataLoader(dataset, { batchSize: 64, shuffle: true }), 0);
    assert.equal(batches.length, 1);
    assert.equal(batches[0].indices.length, 10);
    assert.throws(() => new DataLoader(dataset, { batchSize: 64, dropLast: true }), /batch size 64 is larger than the dataset \(10 samples\) and dropLast is set/);
  });

  it('bad options are refused', () => {
    assert.throws(() => new DataLoader(dataset, { batchSize: 0 }), /batchSize must be a positive integer/);
    assert.throws(() => new DataLoader(dataset, { batchSize: 2.5 }), /batchSize must be a positive integer/);
    assert.throws(() => new DataLoader(numbered(0), { batchSize: 1 }), /the dataset is empty/);
    assert.throws(() => new DataLoader(dataset, { batchSize: 2, seed: -3 }), /seed must be a non-negative integer/);
    assert.throws(() => new DataLoader(dataset, { batchSize: 2, normalize: { mean: [0], std: [0] } }), /std values must be positive/);
    const loader = new DataLoader(dataset, { batchSize: 4 });
    assert.throws(() => loader.batches(0, { startBatch: 4 }), /startBatch must be an integer in \[0, 3\]/);
    assert.throws(() => loader.batches(-1), /epoch must be a non-negative integer/);
    assert.throws(() => loader.batchIndices(0, 3), /batch 3 is out of range \(3 batches per epoch\)/);
  });
});

/** Wraps a dataset so get() answers asynchronously and every call is recorded. */
function recorded(inner: Dataset, fail?: (index: number) => boolean): Dataset & { calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    length: inner.length,
    classes: inner.classes,
    channels: inner.channels,
    async get(index: number): Promise<Sample> {
      calls.push(index);
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (fail?.(index)) throw new Error(`cannot decode sample ${index}`);
      return inner.get(index);
    },
  };
}

describe('read-ahead and errors', () => {
  it('the next `prefetch` batches are requested before the current one is handed over', async () => {
    for (const prefetch of [0, 1, 2, 3]) {
      const dataset = recorded(numbered(40));
      const loader = new DataLoader(dataset, { batchSize: 4, prefetch });
      let first = true;
      for await (const batch of loader.batches(0)) {
        if (first) assert.equal(dataset.calls.length, 4 * (1 + prefetch), `prefetch ${prefetch}`);
        first = false;
        plain(batch);
      }
      assert.equal(dataset.calls.length, 40);
    }
  });

  it('a failing sample fails its batch; a consumer that stops early sees no stray errors', async () => {
    const failing = recorded(numbered(12), (index) => index === 9);
    const loader = new DataLoader(failing, { batchSize: 4 });
    const seen: number[][] = [];
    await assert.rejects(async () => {
      for await (const batch of loader.batches(0)) seen.push(plain(batch).indices);
    }, /cannot decode sample 9/);
    assert.deepEqual(seen, [[0, 1, 2, 3], [4, 5, 6, 7]]);
    // Batches 1 and 2 (with the bad sample) are in flight when the consumer leaves.
    for await (const batch of new DataLoader(failing, { batchSize: 4 }).batches(0)) {
      plain(batch);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  });

  it('transform errors and bad labels name the sample', async () => {
    const broken = new DataLoader(numbered(6), {
      batchSize: 3,
      transform: (image, random) => {
        if (random.next() > 2) return image;
        throw new Error('bad crop');
      },
    });
    await assert.rejects(collect(broken, 0), /transform failed on sample 0: bad crop/);
    const badLabel: Dataset = { length: 2, classes: ['only'], channels: 1, get: (i) => ({ image: { data: new Uint8Array(1), channels: 1, height: 1, width: 1 }, label: i }) };
    await assert.rejects(collect(new DataLoader(badLabel, { batchSize: 2 }), 0), /sample 1 has label 1, outside 0..0/);
  });
});

describe('tensors', () => {
  it('Fashion-MNIST batches: NCHW float32 normalised, int64 labels, and no tensor left after an epoch', async () => {
    const test = loadFashionMnist({ split: 'test' });
    const loader = new DataLoader(subset(test, Array.from({ length: 1000 }, (_, i) => i)), {
      batchSize: 128,
      shuffle: true,
      seed: 1,
      transform: compose([randomCrop(28, { padding: 4 }), randomHorizontalFlip()]),
      normalize: fashionMnistStats,
    });
    const before = memory();
    let count = 0;
    let seen = 0;
    for await (const batch of loader.batches(0)) {
      count++;
      seen += batch.indices.length;
      assert.equal(batch.images.shape[1] * batch.images.shape[2] * batch.images.shape[3], 784);
      assert.deepEqual(batch.labels.shape, [batch.indices.length]);
      const values = batch.images.toTypedArray() as Float32Array;
      const low = -fashionMnistStats.mean[0] / fashionMnistStats.std[0];
      assert.ok(values.every((v) => v >= low - 1e-6 && v <= (1 - fashionMnistStats.mean[0]) / fashionMnistStats.std[0] + 1e-6));
      const labels = Array.from(batch.labels.toTypedArray() as BigInt64Array, Number);
      assert.deepEqual(labels, batch.indices.map((i) => test.labels[i]));
      batch.images.dispose();
      batch.labels.dispose();
    }
    assert.equal(count, 8);
    assert.equal(seen, 1000);
    assert.deepEqual(memory(), before);
    // Stopping mid-epoch leaves nothing behind either: read-ahead holds no tensors.
    for await (const batch of loader.batches(1)) {
      batch.images.dispose();
      batch.labels.dispose();
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(memory(), before);
  });
});
