// Batches from a dataset: seeded shuffling, per-sample augmentation, NCHW float32
// tensors, with the next batches prepared while the consumer trains on the current one.
import { fromBytes } from '../torch/creation.js';
import type { Tensor } from '../torch/tensor.js';
import type { Dataset, Sample } from './dataset.js';
import type { Image } from './image.js';
import { normalize as checkedNormalization, stackImages, type Normalization } from './normalize.js';
import { checkShard, shardIndices, shardLength, type Shard } from './distributed-sampler.js';
import { Random } from './random.js';
import type { TensorTransform } from './augment/random-erasing.js';
import type { Transform } from './transforms.js';

export interface DataLoaderOptions {
  batchSize: number;
  /** Reorder the samples every epoch; the order depends only on (seed, epoch). */
  shuffle?: boolean;
  seed?: number;
  /** Leave out the last batch when it would be smaller than batchSize. */
  dropLast?: boolean;
  /** Per-sample transform; its random stream depends only on (seed, epoch, sample index). */
  transform?: Transform;
  /** Per-sample transform of the normalised CHW pixels (RandomErasing), drawing on the same stream after `transform`. */
  tensorTransform?: TensorTransform;
  normalize?: Normalization;
  /** Batches prepared ahead of the one being consumed (default 2; 0 prepares on demand). */
  prefetch?: number;
  /** Where the batch tensors are made (default: the CPU). */
  device?: string;
  /** Data-parallel training: read only this rank's share of each epoch's order (DistributedSampler's contract). */
  shard?: Shard;
}

export interface Batch {
  /** [N, C, H, W] float32. */
  images: Tensor;
  /** [N] int64. */
  labels: Tensor;
  /** The dataset indices of the batch's samples, in order. */
  indices: number[];
}

interface PreparedBatch {
  pixels: Float32Array;
  shape: [number, number, number, number];
  labels: BigInt64Array;
  indices: number[];
}

export class DataLoader {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly #transform: Transform | undefined;
  readonly #tensorTransform: TensorTransform | undefined;
  readonly #normalize: Normalization | undefined;
  readonly #device: string | undefined;
  readonly shard: Shard | undefined;
  #cachedOrder: { epoch: number; order: number[] } | undefined;

  constructor(dataset: Dataset, options: DataLoaderOptions) {
    const { batchSize, shuffle = false, seed = 0, dropLast = false, prefetch = 2 } = options;
    if (!Number.isInteger(dataset.length) || dataset.length <= 0) throw new Error(`DataLoader: the dataset is empty (length ${dataset.length})`);
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (dropLast && batchSize > dataset.length) {
      throw new Error(
        `DataLoader: batch size ${batchSize} is larger than the dataset (${dataset.length} samples) and dropLast is set, so no batch would be produced; ` +
          'lower the batch size or set dropLast to false',
      );
    }
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`DataLoader: seed must be a non-negative integer, got ${seed}`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new Error(`DataLoader: prefetch must be a non-negative integer, got ${prefetch}`);
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = seed;
    this.dropLast = dropLast;
    this.prefetch = prefetch;
    this.#transform = options.transform;
    this.#tensorTransform = options.tensorTransform;
    this.#normalize = options.normalize ? checkedNormalization(options.normalize.mean, options.normalize.std) : undefined;
    this.#device = options.device;
    if (options.shard) checkShard(options.shard);
    this.shard = options.shard;
  }

  /** Samples per epoch: the dataset's, or this rank's share of it. */
  get length(): number {
    return this.shard ? shardLength(this.dataset.length, this.shard) : this.dataset.length;
  }

  numBatches(): number {
    const n = this.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The dataset indices in the order epoch `epoch` visits them. */
  order(epoch: number): number[] {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`DataLoader: epoch must be a non-negative integer, got ${epoch}`);
    if (this.#cachedOrder?.epoch !== epoch) {
      const order = Array.from({ length: this.dataset.length }, (_, i) => i);
      if (this.shuffle) Random.forEpoch(this.seed, epoch).shuffle(order);
      this.#cachedOrder = { epoch, order: this.shard ? shardIndices(order, this.shard) : order };
    }
    return this.#cachedOrder.order.slice();
  }

  /** The dataset indices of batch `batch` of epoch `epoch`. */
  batchIndices(epoch: number, batch: number): number[] {
    if (!Number.isInteger(batch) || batch < 0 || batch >= this.numBatches()) {
      throw new Error(`DataLoader: batch ${batch} is out of range (${this.numBatches()} batches per epoch)`);
    }
    const order = this.order(epoch);
    return order.slice(batch * this.batchSize, Math.min(order.length, (batch + 1) * this.batchSize));
  }

  /**
   * The batches of epoch `epoch`, from `startBatch` on (to resume mid-epoch: the
   * batches are the same as in an uninterrupted run). The consumer owns each batch's
   * tensors and disposes them.
   */
  batches(epoch: number, options: { startBatch?: number } = {}): AsyncIterable<Batch> {
    const startBatch = options.startBatch ?? 0;
    const total = this.numBatches();
    if (!Number.isInteger(startBatch) || startBatch < 0 || startBatch > total) {
      throw new Error(`DataLoader: startBatch must be an integer in [0, ${total}], got ${startBatch}`);
    }
    const order = this.order(epoch);
    return this.#run(epoch, order, startBatch, total);
  }

  async *#run(epoch: number, order: number[], startBatch: number, total: number): AsyncGenerator<Batch> {
    const queue: Promise<PreparedBatch>[] = [];
    let next = startBatch;
    const fill = (ahead: number) => {
      while (next < total && queue.length <= ahead) {
        const indices = order.slice(next * this.batchSize, Math.min(order.length, (next + 1) * this.batchSize));
        queue.push(this.#prepare(epoch, indices));
        next++;
      }
    };
    while (queue.length > 0 || next < total) {
      // The current batch and `prefetch` more are in flight before waiting on the first.
      fill(this.prefetch);
      const prepared = await queue.shift()!;
      yield this.#toTensors(prepared);
    }
  }

  #prepare(epoch: number, indices: number[]): Promise<PreparedBatch> {
    // Start every fetch now, so decoding runs on the thread pool while the consumer
    // works; a fetch that throws fails this batch, not the one being consumed.
    const fetched = Promise.all(
      indices.map((index) => {
        try {
          return this.dataset.get(index);
        } catch (error) {
          return Promise.reject(error);
        }
      }),
    );
    const prepared = (async () => {
      const samples = await fetched;
      // In-memory datasets answer at once: yield to the event loop so their
      // augmentation runs while the consumer awaits, not inside its call for a batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return this.#assemble(epoch, indices, samples);
    })();
    // A batch may fail before it is awaited (or never be awaited when the consumer stops
    // early); its error is raised when it is awaited, not as an unhandled rejection.
    prepared.catch(() => {});
    return prepared;
  }

  #assemble(epoch: number, indices: number[], samples: Sample[]): PreparedBatch {
    const classes = this.dataset.classes.length;
    const labels = new BigInt64Array(indices.length);
    const randoms = indices.map((index) => Random.forSample(this.seed, epoch, index));
    const images: Image[] = samples.map((sample, i) => {
      const index = indices[i];
      if (!Number.isInteger(sample.label) || sample.label < 0 || sample.label >= classes) {
        throw new Error(`DataLoader: sample ${index} has label ${sample.label}, outside 0..${classes - 1} (${classes} classes)`);
      }
      labels[i] = BigInt(sample.label);
      if (!this.#transform) return sample.image;
      try {
        return this.#transform(sample.image, randoms[i]);
      } catch (error) {
        throw new Error(`DataLoader: transform failed on sample ${index}: ${(error as Error).message}`);
      }
    });
    const { data, shape } = stackImages(images, this.#normalize, (i) => `sample ${indices[i]}`);
    if (this.#tensorTransform) {
      const sampleShape = [shape[1], shape[2], shape[3]] as const;
      const size = shape[1] * shape[2] * shape[3];
      randoms.forEach((random, i) => this.#tensorTransform!(data.subarray(i * size, (i + 1) * size), sampleShape, random));
    }
    return { pixels: data, shape, labels, indices };
  }

  #toTensors(prepared: PreparedBatch): Batch {
    const images = fromBytes(new Uint8Array(prepared.pixels.buffer), 'float32', prepared.shape, this.#device).keep();
    let labels: Tensor;
    try {
      labels = fromBytes(new Uint8Array(prepared.labels.buffer), 'int64', [prepared.labels.length], this.#device).keep();
    } catch (error) {
      images.dispose();
      throw error;
    }
    return { images, labels, indices: prepared.indices };
  }
}
