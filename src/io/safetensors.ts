// safetensors: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and [begin, end) byte range, then the raw bytes.
// Every range is checked before any tensor is made: a forged header cannot make the
// reader allocate more than the file holds.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { fromBytes } from '../torch/creation.js';
import { dtypeSize, type DType } from '../torch/dtype.js';
import { tidy } from '../torch/scope.js';
import { writeFileAtomic } from './atomic.js';
import { checkBoolBytes, checkedNumel, concatChunks, decodeUtf8, isCount, setOwn, stateDictEntries } from './shared.js';
import { CheckpointError } from './errors.js';
import type { StateDict } from './types.js';

/** The reference implementation's limit; a larger header is a corrupt length field. */
const MAX_HEADER_BYTES = 100_000_000;

const dtypeByCode: Record<string, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const codeByDtype = Object.fromEntries(Object.entries(dtypeByCode).map(([code, dtype]) => [dtype, code])) as Record<DType, string>;

export interface Safetensors {
  tensors: StateDict;
  /** The header's `__metadata__`: free-form string pairs. */
  metadata: Record<string, string>;
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the length field and returns the header bytes' end; `fileSize` is the whole file. */
function headerEnd(lengthField: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) throw new CheckpointError(`${source}: ${fileSize} bytes is too short for a safetensors file (the header length alone takes 8)`);
  const length = new DataView(lengthField.buffer, lengthField.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) throw new CheckpointError(`${source}: header length ${length} is above the ${MAX_HEADER_BYTES}-byte limit (corrupt length field?)`);
  if (length < 2n) throw new CheckpointError(`${source}: header length ${length} is too short for a JSON object`);
  const end = 8 + Number(length);
  if (end > fileSize) throw new CheckpointError(`${source}: header length ${length} runs past the end of the ${fileSize}-byte file`);
  return end;
}

function parseHeaderJson(bytes: Uint8Array, source: string): Record<string, unknown> {
  const text = decodeUtf8(bytes, `${source}: header`);
  if (text[0] !== '{') throw new CheckpointError(`${source}: header does not start with '{'`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`${source}: header is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) throw new CheckpointError(`${source}: header is not a JSON object`);
  return header;
}

function parseMetadata(value: unknown, source: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === null || value === undefined) return metadata;
  if (!isPlainObject(value)) throw new CheckpointError(`${source}: __metadata__ is not an object of strings`);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw new CheckpointError(`${source}: __metadata__ '${key}' is a ${typeof item}, not a string`);
    setOwn(metadata, key, item);
  }
  return metadata;
}

function parseEntry(name: string, info: unknown, source: string): Entry {
  const where = `${source}: tensor '${name}'`;
  if (!isPlainObject(info)) throw new CheckpointError(`${where}: header entry is not an object`);
  for (const key of Object.keys(info)) {
    if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') throw new CheckpointError(`${where}: unexpected header field '${key}'`);
  }
  const { dtype: code, shape, data_offsets: offsets } = info;
  if (typeof code !== 'string') throw new CheckpointError(`${where}: dtype is missing or not a string`);
  if (!Object.hasOwn(dtypeByCode, code)) throw new CheckpointError(`${where}: unknown or unsupported dtype '${code}' (supported: ${Object.keys(dtypeByCode).join(', ')})`);
  if (!Array.isArray(shape)) throw new CheckpointError(`${where}: shape is missing or not a list`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1])) {
    throw new CheckpointError(`${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new CheckpointError(`${where}: data offsets [${begin}, ${end}) end before they begin`);
  const dtype = dtypeByCode[code];
  checkedNumel(shape, where);
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Every byte of the data section belongs to exactly one tensor, as the format requires. */
function checkLayout(entries: Entry[], dataSize: number, source: string): void {
  for (const entry of entries) {
    const where = `${source}: tensor '${entry.name}'`;
    if (entry.end > dataSize) {
      throw new CheckpointError(`${where} data offsets [${entry.begin}, ${entry.end}) exceed the data section of ${dataSize} bytes`);
    }
    const needed = checkedNumel(entry.shape, where) * dtypeSize[entry.dtype];
    if (needed !== entry.end - entry.begin) {
      throw new CheckpointError(`${where}: shape [${entry.shape.join(', ')}] of ${codeByDtype[entry.dtype]} needs ${needed} bytes but data offsets [${entry.begin}, ${entry.end}) hold ${entry.end - entry.begin}`);
    }
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: Entry | undefined;
  for (const entry of sorted) {
    if (entry.begin < cursor) {
      throw new CheckpointError(`${source}: tensor '${entry.name}' data offsets [${entry.begin}, ${entry.end}) overlap tensor '${previous?.name}' [${previous?.begin}, ${previous?.end})`);
    }
    if (entry.begin > cursor) throw new CheckpointError(`${source}: tensor '${entry.name}' data offsets [${entry.begin}, ${entry.end}) leave a gap of ${entry.begin - cursor} bytes after byte ${cursor}`);
    cursor = entry.end;
    previous = entry;
  }
  if (cursor !== dataSize) throw new CheckpointError(`${source}: the data section has ${dataSize - cursor} trailing bytes that no tensor covers`);
}

function parseHeader(headerBytes: Uint8Array, dataSize: number, source: string): { entries: Entry[]; metadata: Record<string, string> } {
  const header = parseHeaderJson(headerBytes, source);
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(info, source);
    else entries.push(parseEntry(name, info, source));
  }
  checkLayout(entries, dataSize, source);
  return { entries, metadata };
}

/** Parses a whole safetensors file held in memory. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): Safetensors {
  const dataStart = headerEnd(bytes.subarray(0, 8), bytes.length, source);
  const data = bytes.subarray(dataStart);
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), data.length, source);
  const tensors = tidy(() => {
    const dict: StateDict = {};
    for (const entry of entries) {
      const raw = data.subarray(entry.begin, entry.end);
      if (entry.dtype === 'bool') checkBoolBytes(raw, `${source}: tensor '${entry.name}'`);
      setOwn(dict, entry.name, fromBytes(raw, entry.dtype, entry.shape));
    }
    return dict;
  });
  return { tensors, metadata };
}

function checkMetadata(metadata: Record<string, string>): void {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new CheckpointError(`safetensors metadata '${key}' must be a string, got ${typeof value}`);
  }
}

/** The file as chunks: the padded header, then each tensor's bytes in order. */
export function encodeSafetensorsChunks(tensors: StateDict, metadata: Record<string, string> = {}): Uint8Array[] {
  checkMetadata(metadata);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of stateDictEntries(tensors, 'saveSafetensors')) {
    if (name === '__metadata__') throw new CheckpointError(`safetensors cannot store a tensor named '__metadata__'`);
    const bytes = tensor.toBytes();
    setOwn(header, name, { dtype: codeByDtype[tensor.dtype], shape: tensor.shape, data_offsets: [offset, offset + bytes.length] });
    chunks.push(bytes);
    offset += bytes.length;
  }
  // Spaces pad the header to a multiple of 8 so the data section starts aligned.
  let json = JSON.stringify(header);
  const jsonLength = new TextEncoder().encode(json).length;
  json += ' '.repeat((8 - (jsonLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  return [prefix, headerBytes, ...chunks];
}

/** The whole file in one buffer. */
export function encodeSafetensors(tensors: StateDict, metadata: Record<string, string> = {}): Uint8Array {
  return concatChunks(encodeSafetensorsChunks(tensors, metadata));
}

/** Reads every tensor of a `.safetensors` file, keeping dtypes. */
export function loadSafetensors(path: string): StateDict {
  return decodeSafetensors(readFileSync(path), path).tensors;
}

/** Reads only the header's `__metadata__` (the tensors are not loaded). */
export function loadSafetensorsMetadata(path: string): Record<string, string> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const lengthField = new Uint8Array(8);
    readSync(fd, lengthField, 0, Math.min(8, size), 0);
    const end = headerEnd(lengthField, size, path);
    const headerBytes = new Uint8Array(end - 8);
    readSync(fd, headerBytes, 0, headerBytes.length, 8);
    return parseHeader(headerBytes, size - end, path).metadata;
  } finally {
    closeSync(fd);
  }
}

/** Writes `tensors` (and string `metadata`) to `path` atomically. */
export function saveSafetensors(tensors: StateDict, path: string, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensorsChunks(tensors, metadata));
}
