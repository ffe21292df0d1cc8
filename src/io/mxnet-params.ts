// MXNet's NDArray list file (`prefix-0000.params`), as NDArray::Save / NDArray::Load in
// apache/mxnet src/ndarray/ndarray.cc write and read it through dmlc-core's serializer.
// Everything is little-endian:
//
//   uint64 0x112 (kMXAPINDArrayListMagic), uint64 0 (reserved)
//   uint64 array count, then per array:
//     uint32 magic  0xF993FAC9 (V2) or 0xF993FACA (V3, NumPy shape semantics): int32
//                   storage type follows (0 dense; row-sparse and CSR are refused);
//                   0xF993FAC8 (V1): no storage type;
//                   anything else: the legacy layout, where the magic is ndim and the
//                   dims are uint32
//     shape         int32 ndim, int64 dims (V1..V3). ndim 0 is an empty ("none") array
//                   before V3; in V3, ndim -1 is none and 0 a scalar
//     context       int32 device type (1 CPU, 2 GPU, ...), int32 device id
//     int32 type flag (mshadow: 0 float32, 1 float64, 2 float16, 3 uint8, 4 int32,
//                   5 int8, 6 int64, 7 bool, 8 int16, 12 bfloat16)
//     the elements, C order
//   uint64 name count (0, or the array count), then per name: uint64 length, bytes
//
// mx.model.save_checkpoint names arrays 'arg:NAME' (weights) and 'aux:NAME' (BatchNorm
// moving statistics); the reader keeps the names as stored. Every length is checked
// against the bytes left before anything is allocated, so a corrupt file is an error.
import { readFileSync } from 'node:fs';
import { fromBytes } from '../torch/creation.js';
import { dtypeSize, type DType } from '../torch/dtype.js';
import { tidy } from '../torch/scope.js';
import { writeFileAtomic } from './atomic.js';
import { CheckpointError } from './errors.js';
import { checkBoolBytes, checkedNumel, concatChunks, decodeUtf8, setOwn, stateDictEntries } from './shared.js';
import type { StateDict } from './types.js';

const LIST_MAGIC = 0x112n;
const V1_MAGIC = 0xf993fac8;
const V2_MAGIC = 0xf993fac9;
const V3_MAGIC = 0xf993faca;
const CPU_DEVICE = 1;
/** More dimensions than any tensor library allows: a corrupt ndim field. */
const MAX_DIMS = 32;

const dtypeByFlag: Record<number, DType> = {
  0: 'float32',
  1: 'float64',
  2: 'float16',
  3: 'uint8',
  4: 'int32',
  5: 'int8',
  6: 'int64',
  7: 'bool',
  8: 'int16',
  12: 'bfloat16',
};
const flagByDtype = Object.fromEntries(Object.entries(dtypeByFlag).map(([flag, dtype]) => [dtype, Number(flag)])) as Record<DType, number>;
const unsupportedFlags: Record<number, string> = { 9: 'uint16', 10: 'uint32', 11: 'uint64' };
const storageNames: Record<number, string> = { 1: 'row-sparse', 2: 'CSR' };

/** A cursor over the file that names the place of any read past the end. */
class Reader {
  #view: DataView;
  offset = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly source: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  #need(size: number, what: string): void {
    if (size > this.remaining) {
      throw new CheckpointError(`${this.source}: truncated MXNet .params file: ${what} needs ${size} bytes at offset ${this.offset}, ${this.remaining} left`);
    }
  }
  uint32(what: string): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }
  int32(what: string): number {
    this.#need(4, what);
    const value = this.#view.getInt32(this.offset, true);
    this.offset += 4;
    return value;
  }
  uint64(what: string): bigint {
    this.#need(8, what);
    const value = this.#view.getBigUint64(this.offset, true);
    this.offset += 8;
    return value;
  }
  int64(what: string): bigint {
    this.#need(8, what);
    const value = this.#view.getBigInt64(this.offset, true);
    this.offset += 8;
    return value;
  }
  /** A count that must fit in what is left of the file at `minBytesEach` bytes per item. */
  count(what: string, minBytesEach: number): number {
    const at = this.offset;
    const value = this.uint64(what);
    if (value * BigInt(minBytesEach) > BigInt(this.remaining)) {
      throw new CheckpointError(`${this.source}: ${what} ${value} at offset ${at} is more than the ${this.remaining} bytes left can hold (corrupt file?)`);
    }
    return Number(value);
  }
  take(size: number, what: string): Uint8Array {
    this.#need(size, what);
    const out = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return out;
  }
}

interface ArrayRecord {
  dtype: DType;
  shape: number[];
  data: Uint8Array;
}

function readDims(reader: Reader, ndim: number, wide: boolean, where: string): number[] {
  if (ndim > MAX_DIMS) throw new CheckpointError(`${reader.source}: ${where} has ${ndim} dimensions (corrupt shape?)`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) {
    const dim = wide ? reader.int64(`${where} dimension ${i}`) : BigInt(reader.uint32(`${where} dimension ${i}`));
    if (dim < 0n || dim > BigInt(Number.MAX_SAFE_INTEGER)) throw new CheckpointError(`${reader.source}: ${where} has dimension ${dim} (corrupt shape?)`);
    dims.push(Number(dim));
  }
  return dims;
}

function readArray(reader: Reader, index: number): ArrayRecord {
  const where = `array ${index}`;
  const magic = reader.uint32(`${where} magic`);
  let shape: number[];
  if (magic === V2_MAGIC || magic === V3_MAGIC) {
    const storage = reader.int32(`${where} storage type`);
    if (storage !== 0) {
      const kind = storageNames[storage] ?? `unknown (${storage})`;
      throw new CheckpointError(`${reader.source}: ${where} has ${kind} storage; only dense arrays are supported (convert with .tostype('default') in MXNet)`);
    }
    const ndim = reader.int32(`${where} ndim`);
    const none = magic === V3_MAGIC ? ndim === -1 : ndim === 0;
    if (none) throw new CheckpointError(`${reader.source}: ${where} is an empty (none) NDArray, which holds no tensor`);
    if (ndim < 0) throw new CheckpointError(`${reader.source}: ${where} has ndim ${ndim} (corrupt shape?)`);
    shape = readDims(reader, ndim, true, where);
  } else if (magic === V1_MAGIC) {
    const ndim = reader.int32(`${where} ndim`);
    if (ndim === 0) throw new CheckpointError(`${reader.source}: ${where} is an empty (none) NDArray, which holds no tensor`);
    if (ndim < 0) throw new CheckpointError(`${reader.source}: ${where} has ndim ${ndim} (corrupt shape?)`);
    shape = readDims(reader, ndim, true, where);
  } else {
    // Legacy arrays start with their ndim, uint32 dims follow.
    if (magic === 0) throw new CheckpointError(`${reader.source}: ${where} is an empty (none) NDArray, which holds no tensor`);
    shape = readDims(reader, magic, false, where);
  }
  const device = reader.int32(`${where} device type`);
  reader.int32(`${where} device id`);
  if (device < 1 || device > 6) throw new CheckpointError(`${reader.source}: ${where} has device type ${device}, not an MXNet context (corrupt file?)`);
  const flag = reader.int32(`${where} type flag`);
  const dtype = dtypeByFlag[flag];
  if (!dtype) {
    const name = unsupportedFlags[flag];
    throw new CheckpointError(`${reader.source}: ${where} has ${name ? `dtype ${name}, which libtorch cannot hold` : `unknown type flag ${flag}`}`);
  }
  const bytes = checkedNumel(shape, `${reader.source}: ${where}`) * dtypeSize[dtype];
  return { dtype, shape, data: reader.take(bytes, `${where} data (${dtype} [${shape.join(', ')}])`) };
}

/** Parses a whole `.params` file held in memory; names are kept as stored ('arg:conv0_weight'). */
export function decodeMxnetParams(bytes: Uint8Array, source = 'MXNet .params data'): StateDict {
  const reader = new Reader(bytes, source);
  if (bytes.length < 16 || reader.uint64('header') !== LIST_MAGIC) {
    throw new CheckpointError(`${source}: not an MXNet .params file (it does not start with the NDArray list magic 0x112)`);
  }
  if (reader.uint64('reserved field') !== 0n) throw new CheckpointError(`${source}: the reserved field after the magic is not 0 (corrupt file?)`);
  // The smallest array record: magic, ndim, context and type flag.
  const count = reader.count('array count', 16);
  const arrays: ArrayRecord[] = [];
  for (let i = 0; i < count; i++) arrays.push(readArray(reader, i));
  const nameCount = reader.count('name count', 8);
  if (nameCount !== 0 && nameCount !== count) throw new CheckpointError(`${source}: ${nameCount} names for ${count} arrays`);
  const names: string[] = [];
  for (let i = 0; i < nameCount; i++) {
    const length = reader.count(`name ${i} length`, 1);
    names.push(decodeUtf8(reader.take(length, `name ${i}`), `${source}: name ${i}`));
  }
  if (reader.remaining !== 0) throw new CheckpointError(`${source}: ${reader.remaining} trailing bytes after the last name`);
  // A file saved from a list has no names: its arrays are keyed '0', '1', ...
  const keys = nameCount === 0 ? arrays.map((_, i) => String(i)) : names;
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) throw new CheckpointError(`${source}: the name '${key}' appears twice`);
    seen.add(key);
  }
  return tidy(() => {
    const dict: StateDict = {};
    arrays.forEach((array, i) => {
      if (array.dtype === 'bool') checkBoolBytes(array.data, `${source}: '${keys[i]}'`);
      setOwn(dict, keys[i], fromBytes(array.data, array.dtype, array.shape));
    });
    return dict;
  });
}

function uint64(value: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
  return out;
}

function int32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((value, i) => view.setUint32(4 * i, value >>> 0, true));
  return out;
}

/** The file as chunks, in the V2 layout MXNet 1.x writes (dense CPU arrays). */
export function encodeMxnetParamsChunks(dict: StateDict): Uint8Array[] {
  const entries = stateDictEntries(dict, 'saveMxnetParams');
  const chunks: Uint8Array[] = [uint64(LIST_MAGIC), uint64(0), uint64(entries.length)];
  for (const [name, tensor] of entries) {
    if (tensor.ndim === 0) {
      throw new CheckpointError(`saveMxnetParams: '${name}' is a 0-d tensor, which MXNet's (non-NumPy) format reads as an empty array; reshape it to [1] or leave it out`);
    }
    const dims = new Uint8Array(8 * tensor.ndim);
    const view = new DataView(dims.buffer);
    tensor.shape.forEach((dim, i) => view.setBigInt64(8 * i, BigInt(dim), true));
    chunks.push(int32s(V2_MAGIC, 0, tensor.ndim), dims, int32s(CPU_DEVICE, 0, flagByDtype[tensor.dtype]), tensor.toBytes());
  }
  chunks.push(uint64(entries.length));
  const encoder = new TextEncoder();
  for (const [name] of entries) {
    const bytes = encoder.encode(name);
    chunks.push(uint64(bytes.length), bytes);
  }
  return chunks;
}

export function encodeMxnetParams(dict: StateDict): Uint8Array {
  return concatChunks(encodeMxnetParamsChunks(dict));
}

/** Reads every array of a `.params` file, keeping dtypes and the stored names. */
export function loadMxnetParams(path: string): StateDict {
  return decodeMxnetParams(readFileSync(path), path);
}

/** Writes `dict` as an MXNet `.params` file, atomically; names are written as given. */
export function saveMxnetParams(dict: StateDict, path: string): void {
  writeFileAtomic(path, encodeMxnetParamsChunks(dict));
}
