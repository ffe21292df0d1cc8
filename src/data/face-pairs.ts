// Face-verification pair lists in the two layouts InsightFace's users have:
// - LFW's pairs.txt: a header line ("10 300": sets and pairs per kind, or a count),
//   then "name i j" for two images of one person and "name1 i name2 j" for two
//   people; image i of name is <images>/<name>/<name>_<i as 4 digits>.<ext>, and a
//   pair whose files are missing is skipped (facenet's lfw.get_paths does the same);
// - InsightFace's evaluation .bin files (lfw.bin, cfp_fp.bin, agedb_30.bin): a pickled
//   tuple (list of encoded images, list of bools), images 2i and 2i + 1 forming pair i.
//   Read with the allow-listed unpickler: no class may be named, nothing is called.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '../io/errors.js';
import { isTuple, unpickle } from '../io/pickle/vm.js';

/** The two images of each pair, and whether they show the same person. */
export interface FacePairs {
  /** 2 x pairs images: files (pairs.txt) or encoded image bytes (.bin). */
  images: (string | Uint8Array)[];
  same: boolean[];
  /** Pairs left out because an image file is missing (pairs.txt only). */
  skipped: number;
}

export function readLfwPairs(pairsFile: string, imagesDir: string, options: { ext?: string } = {}): FacePairs {
  const ext = options.ext ?? 'jpg';
  if (!existsSync(pairsFile)) throw new Error(`pairs file '${pairsFile}' does not exist`);
  if (!existsSync(imagesDir)) throw new Error(`images folder '${imagesDir}' does not exist (the folder with one sub-folder per person, such as lfw/)`);
  const lines = readFileSync(pairsFile, 'utf8').split(/\r?\n/);
  const imagePath = (name: string, index: string, line: number) => {
    if (!/^\d+$/.test(index)) throw new Error(`${pairsFile}:${line}: '${index}' is not an image number`);
    return join(imagesDir, name, `${name}_${index.padStart(4, '0')}.${ext}`);
  };
  const images: string[] = [];
  const same: boolean[] = [];
  let skipped = 0;
  // The first line is the header, as facenet's read_pairs skips it.
  lines.slice(1).forEach((text, i) => {
    const fields = text.trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) return;
    const line = i + 2;
    let pair: [string, string];
    if (fields.length === 3) pair = [imagePath(fields[0], fields[1], line), imagePath(fields[0], fields[2], line)];
    else if (fields.length === 4) pair = [imagePath(fields[0], fields[1], line), imagePath(fields[2], fields[3], line)];
    else throw new Error(`${pairsFile}:${line}: expected 'name i j' or 'name1 i name2 j', got '${text.trim()}'`);
    if (!existsSync(pair[0]) || !existsSync(pair[1])) {
      skipped++;
      return;
    }
    images.push(...pair);
    same.push(fields.length === 3);
  });
  if (same.length === 0) {
    throw new Error(`${pairsFile}: none of its pairs has both images under ${imagesDir} (expected files such as <name>/<name>_0001.${ext})`);
  }
  return { images, same, skipped };
}

/** An InsightFace evaluation .bin: the pickle of (bins, issame_list), written by Python 2 or 3. */
export function readVerificationBin(path: string): FacePairs {
  if (!existsSync(path)) throw new Error(`pairs file '${path}' does not exist`);
  const value = unpickle(
    readFileSync(path),
    {
      findGlobal: (module, name) => {
        throw new Error(`it names ${module}.${name}; an evaluation .bin holds only a list of encoded images and a list of bools`);
      },
      py2Strings: 'bytes',
    },
    path,
  );
  if (!isTuple(value) && !Array.isArray(value)) throw new CheckpointError(`${path}: expected a pickled (images, issame) pair, got ${typeof value}`);
  if (value.length !== 2 || !Array.isArray(value[0]) || !Array.isArray(value[1])) {
    throw new CheckpointError(`${path}: expected a pickled (images, issame) pair of lists`);
  }
  const [bins, issame] = value as [unknown[], unknown[]];
  const images = bins.map((item, i) => {
    if (!(item instanceof Uint8Array)) throw new CheckpointError(`${path}: image ${i} is not encoded bytes`);
    return item;
  });
  const same = issame.map((item, i) => {
    if (typeof item !== 'boolean' && item !== 0 && item !== 1) throw new CheckpointError(`${path}: issame[${i}] is not a bool`);
    return Boolean(item);
  });
  // verification.py reads 2 * len(issame) images; any beyond are unused.
  if (images.length < 2 * same.length) throw new CheckpointError(`${path}: ${same.length} pairs need ${2 * same.length} images, the file has ${images.length}`);
  return { images: images.slice(0, 2 * same.length), same, skipped: 0 };
}

/** pairs.txt or a .bin file, chosen by extension; pairs.txt images are looked up under `imagesDir`. */
export function readFacePairs(file: string, imagesDir?: string): FacePairs {
  if (!existsSync(file)) throw new Error(`pairs file '${file}' does not exist`);
  if (file.toLowerCase().endsWith('.bin')) return readVerificationBin(file);
  if (imagesDir === undefined) throw new Error(`${file} is a pairs.txt list; give the folder of its images (--images DIR, the folder with one sub-folder per person)`);
  return readLfwPairs(file, imagesDir);
}
