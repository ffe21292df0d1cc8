// A dataset of image files sorted into one sub-folder per class (root/<class>/<image>),
// decoded with sharp when a sample is asked for.
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { checkIndex, type Dataset, type Sample } from './dataset.js';
import type { Image } from './image.js';

export const defaultImageExtensions: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

export interface ImageFolderOptions {
  /** 3 decodes to RGB, 1 to grayscale (ITU-R 601 luma, as PIL's convert('L')); default 3. */
  channels?: 1 | 3;
  /** Fail on the first unreadable file instead of skipping it. */
  strict?: boolean;
  /** File name endings treated as images, case-insensitive. */
  extensions?: readonly string[];
  /**
   * How files are checked while loading: 'header' (default) reads each header with sharp,
   * 'full' decodes every file, false checks nothing (a bad file then fails in get()).
   */
  verify?: 'header' | 'full' | false;
  /** Resize while decoding so the shorter side has this length (sharp, shrink-on-load). */
  shortSide?: number;
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export interface ImageFile {
  path: string;
  label: number;
}

export class ImageFolder implements Dataset {
  readonly root: string;
  readonly classes: string[];
  readonly channels: 1 | 3;
  readonly samples: readonly ImageFile[];
  /** Files that could not be read, left out of the dataset. */
  readonly skipped: readonly SkippedFile[];
  readonly #shortSide: number | undefined;

  constructor(root: string, classes: string[], samples: ImageFile[], skipped: SkippedFile[], channels: 1 | 3, shortSide?: number) {
    this.root = root;
    this.classes = classes;
    this.samples = samples;
    this.skipped = skipped;
    this.channels = channels;
    this.#shortSide = shortSide;
  }

  get length(): number {
    return this.samples.length;
  }

  async get(index: number): Promise<Sample> {
    checkIndex(index, this.samples.length, 'ImageFolder.get');
    const { path, label } = this.samples[index];
    return { image: await decodeImage(path, this.channels, this.#shortSide), label };
  }
}

/** Decodes an image file (or an encoded image in memory) to HWC uint8 with 1 or 3 channels (alpha dropped). */
export async function decodeImage(source: string | Uint8Array, channels: 1 | 3 = 3, shortSide?: number): Promise<Image> {
  const path = typeof source === 'string' ? source : `(${source.length} encoded bytes)`;
  let pipeline = sharp(typeof source === 'string' ? source : Buffer.from(source.buffer, source.byteOffset, source.length));
  if (shortSide !== undefined) pipeline = pipeline.resize({ width: shortSide, height: shortSide, fit: 'outside', kernel: 'linear' });
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    // sRGB at 8 bits covers grey, 16-bit, palette and CMYK inputs alike.
    decoded = await pipeline.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new Error(`cannot decode image ${path}: ${(error as Error).message}`);
  }
  const { data, info } = decoded;
  if (info.channels !== 3) throw new Error(`cannot decode image ${path}: expected 3 channels after conversion to sRGB, got ${info.channels}`);
  const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
  const image: Image = { data: rgb, channels: 3, height: info.height, width: info.width };
  return channels === 3 ? image : toGray(image);
}

/** L = (299 R + 587 G + 114 B) / 1000, rounded, in PIL's fixed-point form. */
function toGray(image: Image): Image {
  const { data, height, width } = image;
  const gray = new Uint8Array(height * width);
  for (let p = 0, i = 0; p < gray.length; p++, i += 3) {
    gray[p] = (data[i] * 19595 + data[i + 1] * 38470 + data[i + 2] * 7471 + 0x8000) >>> 16;
  }
  return { data: gray, channels: 1, height, width };
}

/** Runs `task` over `items` with at most `limit` running at once. */
async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Image files under `dir`, at any depth, in sorted order. */
async function listImages(dir: string, extensions: Set<string>): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(path)))) found.push(...(await listImages(path, extensions)));
    else if (extensions.has(extname(entry.name).toLowerCase())) found.push(path);
  }
  return found;
}

/** Why `path` cannot be used, or undefined when it can. */
async function probe(path: string, verify: 'header' | 'full'): Promise<string | undefined> {
  try {
    if (verify === 'full') {
      await sharp(path).raw().toBuffer();
      return undefined;
    }
    const metadata = await sharp(path).metadata();
    if (!metadata.width || !metadata.height) return 'the header gives no image size';
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Lists root/<class>/<image> files: classes are the sorted sub-folder names, labels
 * their positions. Unreadable files are skipped and listed in `skipped` (or, with
 * `strict`, an error names them); a class folder with no usable image is an error.
 * Files and folders whose names start with '.' are ignored, as are other extensions.
 */
export async function loadImageFolder(root: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
  const { channels = 3, strict = false, verify = 'header', shortSide } = options;
  if (channels !== 1 && channels !== 3) throw new Error(`image folder: channels must be 1 or 3, got ${String(channels)}`);
  if (shortSide !== undefined && (!Number.isInteger(shortSide) || shortSide <= 0)) {
    throw new Error(`image folder: shortSide must be a positive integer, got ${shortSide}`);
  }
  const extensionList = (options.extensions ?? defaultImageExtensions).map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase());
  const extensions = new Set(extensionList);
  if (!(await isDirectory(root))) throw new Error(`image folder: ${root} is not a folder`);

  const entries = await readdir(root, { withFileTypes: true });
  const classes: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(join(root, entry.name))))) classes.push(entry.name);
  }
  classes.sort();
  if (classes.length === 0) throw new Error(`image folder: ${root} has no class sub-folders; expected ${join(root, '<class>', '<image>')}`);

  const samples: ImageFile[] = [];
  for (const [label, name] of classes.entries()) {
    const files = await listImages(join(root, name), extensions);
    if (files.length === 0) {
      throw new Error(`image folder: class folder ${join(root, name)} holds no images (looked for ${extensionList.join(', ')})`);
    }
    for (const path of files) samples.push({ path, label });
  }

  if (verify === false) return new ImageFolder(root, classes, samples, [], channels, shortSide);

  // Probing runs on sharp's thread pool; a bounded number at once keeps file handles in check.
  const problems = await mapLimit(samples, 16, (sample) => probe(sample.path, verify));
  const skipped: SkippedFile[] = [];
  const kept: ImageFile[] = [];
  samples.forEach((sample, i) => {
    const reason = problems[i];
    if (reason === undefined) kept.push(sample);
    else skipped.push({ path: sample.path, reason });
  });
  if (strict && skipped.length > 0) {
    const listed = skipped.slice(0, 5).map((s) => `${s.path} (${s.reason})`).join('; ');
    const more = skipped.length > 5 ? `; and ${skipped.length - 5} more` : '';
    throw new Error(`image folder: ${skipped.length} unreadable image file${skipped.length === 1 ? '' : 's'}: ${listed}${more}`);
  }
  const counts = new Array<number>(classes.length).fill(0);
  for (const sample of kept) counts[sample.label]++;
  const emptyClass = counts.findIndex((count) => count === 0);
  if (emptyClass >= 0) {
    throw new Error(`image folder: class folder ${join(root, classes[emptyClass])} has no readable images (all of its files were skipped as unreadable)`);
  }
  return new ImageFolder(root, classes, kept, skipped, channels, shortSide);
}
