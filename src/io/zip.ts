// The zip container of torch.save files. Reading checks every structure against
// the file's bounds before touching data (forged sizes and offsets fail early and
// never allocate), rejects overlapping entries, and verifies each entry's CRC.
// Writing produces stored (uncompressed) entries whose data is 64-byte aligned,
// as PyTorch writes them.
import { inflateSync } from 'fflate';
import { crc32 } from './crc32.js';
import { CheckpointError } from './errors.js';
import { decodeUtf8 } from './shared.js';

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
const END64 = 0x06064b50;
const LOCATOR64 = 0x07064b50;
/** Deflate cannot expand data by more than about 1032 times. */
const MAX_DEFLATE_RATIO = 1032;
/**
 * What all compressed entries of one archive may inflate to, together: torch.save writes
 * its entries stored, so only small records are ever compressed (a per-entry cap alone
 * lets many small deflated storages inflate to gigabytes).
 */
export const MAX_INFLATED_BYTES = 256 * 1024 * 1024;

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  dataStart: number;
}

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(message: string): never {
    throw new CheckpointError(`${this.source}: ${message}`);
  }
  need(offset: number, length: number, what: string): void {
    if (offset < 0 || offset + length > this.bytes.length) this.fail(`${what} at byte ${offset} runs past the end of the ${this.bytes.length}-byte file (truncated?)`);
  }
  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }
  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }
  u64(offset: number, what: string): number {
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${value} is out of range`);
    return Number(value);
  }
}

interface Directory {
  count: number;
  offset: number;
  size: number;
  /** Where the central directory must end (the start of the end records). */
  limit: number;
}

function findEnd(r: Reader): number {
  const last = r.bytes.length - 22;
  const first = Math.max(0, last - 0xffff);
  for (let pos = last; pos >= first; pos--) {
    if (r.u32(pos) === END && pos + 22 + r.u16(pos + 20) === r.bytes.length) return pos;
  }
  return r.fail('no zip end-of-central-directory record (the file is truncated or not a zip archive)');
}

function readDirectory(r: Reader): Directory {
  if (r.bytes.length < 22) r.fail(`${r.bytes.length} bytes is too short for a zip archive (truncated?)`);
  const end = findEnd(r);
  let count = r.u16(end + 10);
  let size = r.u32(end + 12);
  let offset = r.u32(end + 16);
  let limit = end;
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locator = end - 20;
    if (locator < 0 || r.u32(locator) !== LOCATOR64) r.fail('zip64 end record locator is missing');
    const end64 = r.u64(locator + 8, 'zip64 end record offset');
    r.need(end64, 56, 'zip64 end record');
    if (end64 + 56 > locator || r.u32(end64) !== END64) r.fail(`no zip64 end record at byte ${end64}`);
    if (r.u32(end64 + 16) !== 0 || r.u32(end64 + 20) !== 0) r.fail('multi-disk zip archives are not supported');
    if (r.u64(end64 + 24, 'zip64 entry count') !== r.u64(end64 + 32, 'zip64 entry count')) r.fail('zip64 end record disagrees on the entry count');
    count = r.u64(end64 + 32, 'zip64 entry count');
    size = r.u64(end64 + 40, 'zip64 central directory size');
    offset = r.u64(end64 + 48, 'zip64 central directory offset');
    limit = end64;
  } else {
    if (r.u16(end + 4) !== 0 || r.u16(end + 6) !== 0) r.fail('multi-disk zip archives are not supported');
    if (r.u16(end + 8) !== count) r.fail('zip end record disagrees on the entry count');
  }
  if (offset + size > limit) r.fail(`central directory [${offset}, ${offset + size}) overlaps the end records at byte ${limit}`);
  if (count * 46 > size) r.fail(`central directory of ${size} bytes cannot hold ${count} entries`);
  return { count, offset, size, limit };
}

/** Applies the zip64 extra field, which holds the values whose 32-bit fields are 0xFFFFFFFF. */
function applyZip64(r: Reader, extraStart: number, extraLength: number, entry: ZipEntry): void {
  const wanted = [entry.size === 0xffffffff, entry.compressedSize === 0xffffffff, entry.localOffset === 0xffffffff];
  if (!wanted.some(Boolean)) return;
  for (let p = extraStart; p + 4 <= extraStart + extraLength; ) {
    const id = r.u16(p);
    const length = r.u16(p + 2);
    if (p + 4 + length > extraStart + extraLength) break;
    if (id === 0x0001) {
      let q = p + 4;
      const next = (what: string): number => {
        if (q + 8 > p + 4 + length) r.fail(`entry '${entry.name}': zip64 extra field is too short`);
        const value = r.u64(q, what);
        q += 8;
        return value;
      };
      if (wanted[0]) entry.size = next('zip64 size');
      if (wanted[1]) entry.compressedSize = next('zip64 compressed size');
      if (wanted[2]) entry.localOffset = next('zip64 local header offset');
      return;
    }
    p += 4 + length;
  }
  r.fail(`entry '${entry.name}': 32-bit size or offset fields are 0xFFFFFFFF but there is no zip64 extra field`);
}

function readCentralEntry(r: Reader, p: number, directoryEnd: number): { entry: ZipEntry; next: number } {
  if (p + 46 > directoryEnd) r.fail(`central directory entry at byte ${p} runs past the directory's end`);
  if (r.u32(p) !== CENTRAL) r.fail(`no central directory entry signature at byte ${p}`);
  const flags = r.u16(p + 8);
  const nameLength = r.u16(p + 28);
  const extraLength = r.u16(p + 30);
  const commentLength = r.u16(p + 32);
  const next = p + 46 + nameLength + extraLength + commentLength;
  if (next > directoryEnd) r.fail(`central directory entry at byte ${p} runs past the directory's end`);
  const name = decodeUtf8(r.bytes.subarray(p + 46, p + 46 + nameLength), `${r.source}: zip entry name at byte ${p + 46}`);
  if (flags & 0x41) r.fail(`entry '${name}' is encrypted`);
  const entry: ZipEntry = {
    name,
    method: r.u16(p + 10),
    crc: r.u32(p + 16),
    compressedSize: r.u32(p + 20),
    size: r.u32(p + 24),
    localOffset: r.u32(p + 42),
    dataStart: 0,
  };
  applyZip64(r, p + 46 + nameLength, extraLength, entry);
  if (entry.method !== 0 && entry.method !== 8) r.fail(`entry '${name}' uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
  if (entry.method === 0 && entry.compressedSize !== entry.size) r.fail(`stored entry '${name}' has compressed size ${entry.compressedSize} but size ${entry.size}`);
  return { entry, next };
}

/** Checks the local header against the central record and finds where the data starts. */
function locateData(r: Reader, entry: ZipEntry, dataLimit: number): void {
  const p = entry.localOffset;
  r.need(p, 30, `local header of '${entry.name}'`);
  if (r.u32(p) !== LOCAL) r.fail(`no local header signature for '${entry.name}' at byte ${p}`);
  const flags = r.u16(p + 6);
  const nameLength = r.u16(p + 26);
  const extraLength = r.u16(p + 28);
  r.need(p + 30, nameLength, `local header name of '${entry.name}'`);
  const localName = r.bytes.subarray(p + 30, p + 30 + nameLength);
  if (decodeUtf8(localName, `${r.source}: local name at byte ${p + 30}`) !== entry.name) r.fail(`local header at byte ${p} names a different entry than '${entry.name}'`);
  if (r.u16(p + 8) !== entry.method) r.fail(`local header of '${entry.name}' disagrees on the compression method`);
  if (!(flags & 0x08)) {
    const localCrc = r.u32(p + 14);
    const localCompressed = r.u32(p + 18);
    const localSize = r.u32(p + 22);
    const sizesAgree = (localCompressed === 0xffffffff || localCompressed === entry.compressedSize) && (localSize === 0xffffffff || localSize === entry.size);
    if (localCrc !== entry.crc || !sizesAgree) r.fail(`local header of '${entry.name}' disagrees with the central directory on its CRC or sizes`);
  }
  entry.dataStart = p + 30 + nameLength + extraLength;
  const dataEnd = entry.dataStart + entry.compressedSize;
  if (dataEnd > dataLimit) r.fail(`entry '${entry.name}' data [${entry.dataStart}, ${dataEnd}) runs into the central directory at byte ${dataLimit}`);
}

/** A validated zip archive in memory; entries are read (and CRC-checked) on demand. */
export class ZipArchive {
  readonly #reader: Reader;
  readonly #entries = new Map<string, ZipEntry>();

  constructor(bytes: Uint8Array, source: string) {
    const r = (this.#reader = new Reader(bytes, source));
    const directory = readDirectory(r);
    const directoryEnd = directory.offset + directory.size;
    let p = directory.offset;
    for (let i = 0; i < directory.count; i++) {
      const { entry, next } = readCentralEntry(r, p, directoryEnd);
      if (this.#entries.has(entry.name)) r.fail(`entry '${entry.name}' appears twice`);
      locateData(r, entry, directory.offset);
      this.#entries.set(entry.name, entry);
      p = next;
    }
    if (p !== directoryEnd) r.fail(`central directory has ${directoryEnd - p} bytes after its ${directory.count} entries`);
    this.#checkNoOverlap();
    let inflated = 0;
    for (const entry of this.#entries.values()) {
      if (entry.method !== 8) continue;
      if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
        r.fail(`entry '${entry.name}' claims ${entry.size} bytes from ${entry.compressedSize} compressed bytes, more than deflate can produce`);
      }
      inflated += entry.size;
    }
    if (inflated > MAX_INFLATED_BYTES) {
      r.fail(`its compressed entries would inflate to ${inflated} bytes in all, over the limit of ${MAX_INFLATED_BYTES} (torch.save stores tensors uncompressed)`);
    }
  }

  #checkNoOverlap(): void {
    const sorted = [...this.#entries.values()].sort((a, b) => a.localOffset - b.localOffset);
    for (let i = 1; i < sorted.length; i++) {
      const previous = sorted[i - 1];
      if (sorted[i].localOffset < previous.dataStart + previous.compressedSize) {
        this.#reader.fail(`entries '${previous.name}' and '${sorted[i].name}' overlap`);
      }
    }
  }

  get names(): string[] {
    return [...this.#entries.keys()];
  }
  has(name: string): boolean {
    return this.#entries.has(name);
  }
  /** The entry's size once decompressed, known before reading it. */
  sizeOf(name: string): number {
    return this.#entry(name).size;
  }

  #entry(name: string): ZipEntry {
    const entry = this.#entries.get(name);
    if (!entry) this.#reader.fail(`missing zip entry '${name}'`);
    return entry;
  }

  /** The entry's bytes (a view into the file for stored entries), CRC-checked. */
  read(name: string): Uint8Array {
    const r = this.#reader;
    const entry = this.#entry(name);
    const raw = r.bytes.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
    let data = raw;
    if (entry.method === 8) {
      try {
        data = inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch (error) {
        r.fail(`entry '${name}' does not inflate: ${(error as Error).message}`);
      }
      if (data.length !== entry.size) r.fail(`entry '${name}' inflates to ${data.length} bytes, not the ${entry.size} recorded`);
    }
    if (crc32(data) !== entry.crc) r.fail(`entry '${name}' fails its CRC check (the file is corrupt)`);
    return data;
  }
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

const ALIGNMENT = 64;
/** A private extra-field id ("rn") for the alignment padding; readers skip unknown ids. */
const PADDING_FIELD_ID = 0x6e72;
/** 1980-01-01 00:00 in MS-DOS format: fixed, so equal inputs give equal files. */
const DOS_DATE = (1 << 5) | 1;

/**
 * A stored (uncompressed) zip archive as chunks, each entry's data aligned to 64
 * bytes with padding in the local header's extra field.
 */
export function zipStoredChunks(inputs: ZipInput[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data } of inputs) {
    const nameBytes = new TextEncoder().encode(name);
    const padding = (ALIGNMENT - ((offset + 30 + nameBytes.length + 4) % ALIGNMENT)) % ALIGNMENT;
    const extraLength = 4 + padding;
    const crc = crc32(data);
    const local = new Uint8Array(30 + nameBytes.length + extraLength);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(12, DOS_DATE, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    lv.setUint16(28, extraLength, true);
    local.set(nameBytes, 30);
    lv.setUint16(30 + nameBytes.length, PADDING_FIELD_ID, true);
    lv.setUint16(32 + nameBytes.length, padding, true);
    const record = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(record.buffer);
    cv.setUint32(0, CENTRAL, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(14, DOS_DATE, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    record.set(nameBytes, 46);
    central.push(record);
    chunks.push(local, data);
    offset += local.length + data.length;
  }
  const directorySize = central.reduce((total, record) => total + record.length, 0);
  if (offset + directorySize > 0xffffffff || inputs.length > 0xffff) {
    throw new CheckpointError('torch.save files above 4 GiB or 65535 entries are not supported by this writer');
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, END, true);
  ev.setUint16(8, inputs.length, true);
  ev.setUint16(10, inputs.length, true);
  ev.setUint32(12, directorySize, true);
  ev.setUint32(16, offset, true);
  return [...chunks, ...central, end];
}
