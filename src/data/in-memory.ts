// A dataset held in memory as one uint8 array of N images (HWC each) and their labels.
import { checkIndex, type Dataset, type Sample } from './dataset.js';

export interface InMemoryDatasetSpec {
  /** N x height x width x channels uint8 pixels. */
  images: Uint8Array;
  labels: ArrayLike<number>;
  height: number;
  width: number;
  channels: number;
  classes: string[];
}

export class InMemoryDataset implements Dataset {
  readonly images: Uint8Array;
  readonly labels: Uint8Array | Int32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: string[];
  readonly length: number;
  readonly #imageSize: number;

  constructor(spec: InMemoryDatasetSpec) {
    const { images, labels, height, width, channels, classes } = spec;
    for (const [name, value] of [['height', height], ['width', width], ['channels', channels]] as const) {
      if (!Number.isInteger(value) || value <= 0) throw new Error(`dataset: ${name} must be a positive integer, got ${value}`);
    }
    this.#imageSize = height * width * channels;
    if (images.length !== labels.length * this.#imageSize) {
      throw new Error(`dataset: ${labels.length} labels need ${labels.length * this.#imageSize} pixel values of ${height}x${width}x${channels}, got ${images.length}`);
    }
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      if (!Number.isInteger(label) || label < 0 || label >= classes.length) {
        throw new Error(`dataset: label ${label} of sample ${i} is outside 0..${classes.length - 1} (${classes.length} classes)`);
      }
    }
    this.images = images;
    this.labels = labels instanceof Uint8Array || labels instanceof Int32Array ? labels : Int32Array.from(labels);
    this.height = height;
    this.width = width;
    this.channels = channels;
    this.classes = classes;
    this.length = labels.length;
  }

  /** The sample's pixels are a view into the dataset: transforms return new images. */
  get(index: number): Sample {
    checkIndex(index, this.length, 'dataset.get');
    const start = index * this.#imageSize;
    return {
      image: { data: this.images.subarray(start, start + this.#imageSize), channels: this.channels, height: this.height, width: this.width },
      label: this.labels[index],
    };
  }
}

/** The samples of `dataset` whose label is in `keep`, relabelled by their position in `keep` (keep [5, 7] makes class 5 label 0). */
export function keepClasses(dataset: InMemoryDataset, keep: readonly number[]): InMemoryDataset {
  const newLabel = new Map<number, number>();
  keep.forEach((label, i) => {
    if (!Number.isInteger(label) || label < 0 || label >= dataset.classes.length) {
      throw new Error(`class ${label} is outside 0..${dataset.classes.length - 1} (${dataset.classes.length} classes: ${dataset.classes.join(', ')})`);
    }
    if (newLabel.has(label)) throw new Error(`class ${label} is listed twice`);
    newLabel.set(label, i);
  });
  const chosen: number[] = [];
  for (let i = 0; i < dataset.length; i++) if (newLabel.has(dataset.labels[i])) chosen.push(i);
  const imageSize = dataset.height * dataset.width * dataset.channels;
  const images = new Uint8Array(chosen.length * imageSize);
  chosen.forEach((from, to) => images.set(dataset.images.subarray(from * imageSize, (from + 1) * imageSize), to * imageSize));
  return new InMemoryDataset({
    images,
    labels: Int32Array.from(chosen, (i) => newLabel.get(dataset.labels[i])!),
    height: dataset.height,
    width: dataset.width,
    channels: dataset.channels,
    classes: keep.map((label) => dataset.classes[label]),
  });
}
