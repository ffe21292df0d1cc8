// CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from their binary release
// (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz, unpacked). Each record is the label
// byte(s) then 3072 pixel bytes: the 32x32 red plane, then green, then blue, row by row.
// CIFAR-10 records have one label; CIFAR-100 records a coarse (superclass) then a fine one.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InMemoryDataset } from './in-memory.js';

export type CifarName = 'cifar10' | 'cifar100';
export type CifarSplit = 'train' | 'test';
/** CIFAR-100's 100 fine classes or 20 superclasses. */
export type Cifar100Labels = 'fine' | 'coarse';

const SIDE = 32;
const PIXELS = SIDE * SIDE * 3;

interface Layout {
  title: string;
  /** The folder the archive unpacks to, tried inside the given folder. */
  folder: string;
  files: Record<CifarSplit, string[]>;
  labelBytes: number;
  names: Record<Cifar100Labels, string>;
}

const layouts: Record<CifarName, Layout> = {
  cifar10: {
    title: 'CIFAR-10',
    folder: 'cifar-10-batches-bin',
    files: { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), test: ['test_batch.bin'] },
    labelBytes: 1,
    names: { fine: 'batches.meta.txt', coarse: 'batches.meta.txt' },
  },
  cifar100: {
    title: 'CIFAR-100',
    folder: 'cifar-100-binary',
    files: { train: ['train.bin'], test: ['test.bin'] },
    labelBytes: 2,
    names: { fine: 'fine_label_names.txt', coarse: 'coarse_label_names.txt' },
  },
};

/** Per-channel mean and std of the training images on the 0..1 scale (the values CIFAR recipes normalise with). */
export const cifarStats: Record<CifarName, { mean: number[]; std: number[] }> = {
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  cifar100: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
};

export interface CifarOptions {
  split: CifarSplit;
  /** The unpacked folder (cifar-10-batches-bin, cifar-100-binary) or the folder holding it. */
  dataDir: string;
  /** CIFAR-100 only: fine (default) or coarse labels. */
  labels?: Cifar100Labels;
}

export class Cifar extends InMemoryDataset {
  readonly name: CifarName;
  readonly split: CifarSplit;
  readonly dir: string;
  /** CIFAR-100's coarse labels beside the fine ones (undefined for CIFAR-10). */
  readonly coarseLabels: Uint8Array | undefined;

  constructor(init: { name: CifarName; split: CifarSplit; dir: string; images: Uint8Array; labels: Uint8Array; coarseLabels?: Uint8Array; classes: string[] }) {
    super({ images: init.images, labels: init.labels, height: SIDE, width: SIDE, channels: 3, classes: init.classes });
    this.name = init.name;
    this.split = init.split;
    this.dir = init.dir;
    this.coarseLabels = init.coarseLabels;
  }
}

/** The folder holding the release's files: `dataDir` itself or its unpacked sub-folder. */
export function findCifarDir(name: CifarName, dataDir: string): string {
  const layout = layouts[name];
  if (!dataDir) throw new Error(`${layout.title}: give the folder of its binary release (--data-dir DIR)`);
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new Error(`${layout.title}: data folder ${dataDir} does not exist`);
  const needed = [...layout.files.train, ...layout.files.test, ...new Set(Object.values(layout.names))];
  for (const dir of [dataDir, join(dataDir, layout.folder)]) if (needed.every((file) => existsSync(join(dir, file)))) return dir;
  const missing = needed.filter((file) => !existsSync(join(dataDir, file)));
  throw new Error(`${layout.title}: ${dataDir} (or ${join(dataDir, layout.folder)}) lacks ${missing.join(', ')}; unpack ${layout.folder === 'cifar-10-batches-bin' ? 'cifar-10-binary.tar.gz' : 'cifar-100-binary.tar.gz'} there`);
}

function readNames(path: string): string[] {
  return readFileSync(path, 'utf8').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
}

/** Reads one split into memory as HWC uint8 images. */
export function loadCifar(name: CifarName, options: CifarOptions): Cifar {
  const layout = layouts[name];
  if (!layout) throw new Error(`unknown CIFAR set '${String(name)}'; expected cifar10 or cifar100`);
  const { split } = options;
  if (split !== 'train' && split !== 'test') throw new Error(`${layout.title}: split must be 'train' or 'test', got '${String(split)}'`);
  const labelKind = options.labels ?? 'fine';
  if (labelKind !== 'fine' && labelKind !== 'coarse') throw new Error(`${layout.title}: labels must be 'fine' or 'coarse', got '${String(labelKind)}'`);
  if (name === 'cifar10' && labelKind !== 'fine') throw new Error('CIFAR-10 has one set of labels; coarse labels are a CIFAR-100 option');
  const dir = findCifarDir(name, options.dataDir);
  const classes = readNames(join(dir, layout.names[labelKind]));
  const record = layout.labelBytes + PIXELS;
  const chunks = layout.files[split].map((file) => {
    const path = join(dir, file);
    const bytes = readFileSync(path);
    if (bytes.length === 0 || bytes.length % record !== 0) {
      throw new Error(`${path}: ${bytes.length} bytes is not a whole number of ${record}-byte ${layout.title} records`);
    }
    return { path, bytes };
  });
  const count = chunks.reduce((sum, chunk) => sum + chunk.bytes.length / record, 0);
  const images = new Uint8Array(count * PIXELS);
  const fine = new Uint8Array(count);
  const coarse = layout.labelBytes === 2 ? new Uint8Array(count) : undefined;
  const plane = SIDE * SIDE;
  let n = 0;
  for (const { path, bytes } of chunks) {
    for (let offset = 0; offset < bytes.length; offset += record, n++) {
      if (coarse) coarse[n] = bytes[offset];
      fine[n] = bytes[offset + layout.labelBytes - 1];
      const label = labelKind === 'coarse' ? coarse![n] : fine[n];
      if (label >= classes.length) throw new Error(`${path}: record ${offset / record} has label ${label}, but there are ${classes.length} ${labelKind} classes`);
      // Planar RGB to interleaved HWC.
      const from = offset + layout.labelBytes;
      const to = n * PIXELS;
      for (let p = 0; p < plane; p++) {
        images[to + p * 3] = bytes[from + p];
        images[to + p * 3 + 1] = bytes[from + plane + p];
        images[to + p * 3 + 2] = bytes[from + 2 * plane + p];
      }
    }
  }
  return new Cifar({ name, split, dir, images, labels: labelKind === 'coarse' ? coarse! : fine, coarseLabels: coarse, classes });
}
