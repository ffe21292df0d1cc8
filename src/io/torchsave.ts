// torch.save files: a zip archive holding `<prefix>/data.pkl` (the pickled object)
// and one entry `<prefix>/data/<key>` per storage. Read with the allow-listed
// unpickler (as torch.load(weights_only=True)); written as PyTorch 1.13 writes them.
import { readFileSync } from 'node:fs';
import { fromBytes } from '../torch/creation.js';
import { dtypeSize, type DType } from '../torch/dtype.js';
import { tidy } from '../torch/scope.js';
import { writeFileAtomic } from './atomic.js';
import { CheckpointError } from './errors.js';
import { torchUnpickleHooks } from './pickle/torch-reader.js';
import { pickleForTorchSave } from './pickle/torch-writer.js';
import { unpickle } from './pickle/vm.js';
import { checkBoolBytes, concatChunks } from './shared.js';
import { ZipArchive, zipStoredChunks } from './zip.js';

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** The magic number the pre-1.6 format pickles first (PROTO 2, LONG1 of 10 bytes). */
const LEGACY_START = [0x80, 0x02, 0x8a, 0x0a];

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((byte, i) => bytes[i] === byte);
}

/** The folder holding data.pkl: torch.save names it after the file, so any single folder. */
function findPrefix(zip: ZipArchive, source: string): string {
  const pickles = zip.names.filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  // torch.jit.save archives also hold a data.pkl, but of TorchScript classes and with code/ beside it.
  if (zip.names.some((name) => /^[^/]+\/(constants\.pkl|code\/)/.test(name))) {
    throw new CheckpointError(
      `${source}: this is a TorchScript archive (torch.jit.save), not a torch.save file of weights; ` +
        "save its weights in Python with torch.save(torch.jit.load(path).state_dict(), 'weights.pth')",
    );
  }
  if (pickles.length === 1) return pickles[0].slice(0, -'/data.pkl'.length);
  if (pickles.length > 1) throw new CheckpointError(`${source}: several data.pkl records (${pickles.join(', ')})`);
  throw new CheckpointError(`${source}: no <folder>/data.pkl record; entries: ${zip.names.slice(0, 5).join(', ')}${zip.names.length > 5 ? ', ...' : ''}`);
}

/** The small records PyTorch checks before unpickling: byte order and format version. */
function checkRecords(zip: ZipArchive, prefix: string, source: string): void {
  const text = (name: string) => (zip.has(name) ? new TextDecoder().decode(zip.read(name)).trim() : undefined);
  const order = text(`${prefix}/byteorder`);
  if (order !== undefined && order !== 'little') throw new CheckpointError(`${source}: byte order '${order}' is not supported (only little-endian files)`);
  const version = text(`${prefix}/version`);
  if (version !== undefined && !/^[1-9][0-9]{0,2}$/.test(version)) throw new CheckpointError(`${source}: format version '${version}' is not a version number`);
}

/** Unpickles a torch.save file held in memory; tensors come back on the CPU with their dtypes. */
export function decodeTorchFile(bytes: Uint8Array, source = 'torch.save data'): unknown {
  if (!startsWith(bytes, ZIP_MAGIC)) {
    if (startsWith(bytes, LEGACY_START)) {
      throw new CheckpointError(`${source}: the pre-1.6 torch.save format is not supported; re-save it with a current PyTorch (torch.save(torch.load(path), path))`);
    }
    throw new CheckpointError(`${source}: not a torch.save file (no zip signature)`);
  }
  const zip = new ZipArchive(bytes, source);
  const prefix = findPrefix(zip, source);
  checkRecords(zip, prefix, source);
  const pickle = zip.read(`${prefix}/data.pkl`);
  const readStorage = (key: string, dtype: DType, numel: number) => {
    const name = `${prefix}/data/${key}`;
    if (!zip.has(name)) throw new Error(`storage '${key}' has no record '${name}'`);
    // Checked against the directory before any bytes are read or allocated.
    const expected = numel * dtypeSize[dtype];
    if (zip.sizeOf(name) !== expected) throw new Error(`storage '${key}' of ${numel} ${dtype} needs ${expected} bytes but its record holds ${zip.sizeOf(name)}`);
    const data = zip.read(name);
    if (dtype === 'bool') checkBoolBytes(data, `storage '${key}'`);
    return fromBytes(data, dtype, [numel]);
  };
  // tidy frees the storages' own handles (the returned views keep the memory) and
  // every tensor made before an error.
  return tidy(() => unpickle(pickle, torchUnpickleHooks(readStorage), `${source}: data.pkl`));
}

/** The archive as chunks: data.pkl, byteorder, one record per storage, version. */
export function encodeTorchFileChunks(value: unknown): Uint8Array[] {
  const { pickle, storages } = pickleForTorchSave(value);
  const text = (content: string) => new TextEncoder().encode(content);
  return zipStoredChunks([
    { name: 'archive/data.pkl', data: pickle },
    { name: 'archive/byteorder', data: text('little') },
    ...storages.map(({ key, bytes }) => ({ name: `archive/data/${key}`, data: bytes })),
    { name: 'archive/version', data: text('3\n') },
  ]);
}

export function encodeTorchFile(value: unknown): Uint8Array {
  return concatChunks(encodeTorchFileChunks(value));
}

/**
 * Loads a torch.save file as JS values: dicts as objects (string keys) or Maps, lists
 * as arrays, tuples as frozen arrays, numbers, bigints, strings, null and tensors.
 * Only tensors and plain data are accepted, as torch.load(weights_only=True).
 */
export function loadTorchFile(path: string): unknown {
  return decodeTorchFile(readFileSync(path), path);
}

/** Writes `value` as torch.save would (see pickleForTorchSave for the type mapping), atomically. */
export function saveTorchFile(value: unknown, path: string): void {
  writeFileAtomic(path, encodeTorchFileChunks(value));
}
