// NumPy's .npy format: magic, version, a Python-literal header dict
// ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }) padded to 64 bytes,
// then the C-order values. The header is parsed by a tiny literal parser, never eval'd.
import { readFileSync } from 'node:fs';
import { fromBytes } from '../torch/creation.js';
import { dtypeSize, type DType } from '../torch/dtype.js';
import { Tensor } from '../torch/tensor.js';
import { writeFileAtomic } from './atomic.js';
import { CheckpointError } from './errors.js';
import { endianness } from 'node:os';
import { checkBoolBytes, checkedNumel, concatChunks, describe } from './shared.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const dtypeByDescr: Record<string, DType> = {
  '<f8': 'float64',
  '<f4': 'float32',
  '<f2': 'float16',
  '<i8': 'int64',
  '<i4': 'int32',
  '<i2': 'int16',
  '|i1': 'int8',
  '|u1': 'uint8',
  '|b1': 'bool',
};
const descrByDtype: Partial<Record<DType, string>> = Object.fromEntries(Object.entries(dtypeByDescr).map(([descr, dtype]) => [dtype, descr]));

type Literal = string | boolean | number | Literal[];

const MAX_NESTING = 32;

/** Parses the header's Python literal: a dict of strings, booleans, integers and tuples. */
class LiteralParser {
  #pos = 0;
  #depth = 0;
  constructor(private readonly text: string, private readonly source: string) {}

  fail(what: string): never {
    throw new CheckpointError(`${this.source}: header ${what} at character ${this.#pos}: ${JSON.stringify(this.text)}`);
  }
  skipSpace(): void {
    while (this.#pos < this.text.length && ' \t\n\r'.includes(this.text[this.#pos])) this.#pos++;
  }
  eat(char: string): boolean {
    this.skipSpace();
    if (this.text[this.#pos] !== char) return false;
    this.#pos++;
    return true;
  }
  expect(char: string): void {
    if (!this.eat(char)) this.fail(`expected '${char}'`);
  }
  dict(): Map<string, Literal> {
    this.expect('{');
    const result = new Map<string, Literal>();
    while (!this.eat('}')) {
      const key = this.value();
      if (typeof key !== 'string') this.fail('has a key that is not a string');
      if (result.has(key)) this.fail(`repeats key '${key}'`);
      this.expect(':');
      result.set(key, this.value());
      if (!this.eat(',')) {
        this.expect('}');
        break;
      }
    }
    this.skipSpace();
    if (this.#pos !== this.text.length) this.fail('has text after the dict');
    return result;
  }
  value(): Literal {
    this.skipSpace();
    const char = this.text[this.#pos];
    if (char === "'" || char === '"') return this.string(char);
    if (char === '(' || char === '[') return this.sequence(char === '(' ? ')' : ']');
    const word = /^(True|False|-?\d+L?)/.exec(this.text.slice(this.#pos, this.#pos + 32));
    if (!word) this.fail('has an unexpected value');
    this.#pos += word[0].length;
    if (word[0] === 'True' || word[0] === 'False') return word[0] === 'True';
    const value = Number(word[0].replace('L', ''));
    if (!Number.isSafeInteger(value)) this.fail(`has an integer out of range`);
    return value;
  }
  string(quote: string): string {
    const end = this.text.indexOf(quote, this.#pos + 1);
    if (end < 0) this.fail('has an unterminated string');
    const value = this.text.slice(this.#pos + 1, end);
    if (value.includes('\\')) this.fail('has an escaped string');
    this.#pos = end + 1;
    return value;
  }
  sequence(close: string): Literal[] {
    // A header nests a shape tuple in a dict; deeper nesting is only a way to overflow the stack.
    if (++this.#depth > MAX_NESTING) this.fail(`nests more than ${MAX_NESTING} levels`);
    this.#pos++;
    const items: Literal[] = [];
    while (!this.eat(close)) {
      items.push(this.value());
      if (!this.eat(',')) {
        this.expect(close);
        break;
      }
    }
    this.#depth--;
    return items;
  }
}

interface NpyHeader {
  dtype: DType;
  shape: number[];
  dataStart: number;
}

function readHeader(bytes: Uint8Array, source: string): NpyHeader {
  if (MAGIC.some((byte, i) => i < bytes.length && bytes[i] !== byte)) throw new CheckpointError(`${source}: not a .npy file (missing the \\x93NUMPY magic)`);
  if (bytes.length < 10) throw new CheckpointError(`${source}: ${bytes.length} bytes is too short for a .npy header (truncated?)`);
  const major = bytes[6];
  const minor = bytes[7];
  if (minor !== 0 || major < 1 || major > 3) throw new CheckpointError(`${source}: unsupported .npy format version ${major}.${minor}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major > 1 && bytes.length < 12) throw new CheckpointError(`${source}: truncated inside the header length`);
  const headerStart = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new CheckpointError(`${source}: header of ${headerLength} bytes runs past the end of the ${bytes.length}-byte file`);
  const raw = bytes.subarray(headerStart, dataStart);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] > 0x7e || (raw[i] < 0x20 && raw[i] !== 0x0a)) throw new CheckpointError(`${source}: header byte ${headerStart + i} (0x${raw[i].toString(16)}) is not printable ASCII`);
  }
  const text = new TextDecoder('latin1').decode(raw);
  if (!text.endsWith('\n')) throw new CheckpointError(`${source}: header does not end with a newline (corrupt header length?)`);
  return { ...interpretHeader(new LiteralParser(text, source).dict(), source), dataStart };
}

function interpretHeader(header: Map<string, Literal>, source: string): Omit<NpyHeader, 'dataStart'> {
  for (const key of header.keys()) {
    if (key !== 'descr' && key !== 'fortran_order' && key !== 'shape') throw new CheckpointError(`${source}: unexpected header key '${key}'`);
  }
  const descr = header.get('descr');
  const fortran = header.get('fortran_order');
  const shape = header.get('shape');
  if (descr === undefined || fortran === undefined || shape === undefined) throw new CheckpointError(`${source}: header needs 'descr', 'fortran_order' and 'shape'`);
  if (typeof descr !== 'string') throw new CheckpointError(`${source}: structured arrays (descr ${JSON.stringify(descr)}) are not supported`);
  if (descr.includes('O')) throw new CheckpointError(`${source}: object arrays (descr '${descr}') are not supported; they need pickle`);
  if (descr.startsWith('>')) throw new CheckpointError(`${source}: big-endian arrays (descr '${descr}') are not supported; save with arr.astype('<${descr.slice(1)}')`);
  // One-byte types may be written with any byte-order mark.
  // '=' is NumPy's native byte order: little-endian on every platform libtorch runs on here.
  const native = endianness() === 'LE' && descr.startsWith('=') ? `<${descr.slice(1)}` : descr;
  const normalized = /^[<=|][iub]1$/.test(native) ? `|${native.slice(1)}` : native;
  const dtype = dtypeByDescr[normalized];
  if (!dtype || !Object.prototype.hasOwnProperty.call(dtypeByDescr, normalized)) {
    throw new CheckpointError(`${source}: unsupported dtype '${descr}' (supported: ${Object.keys(dtypeByDescr).join(', ')})`);
  }
  if (typeof fortran !== 'boolean') throw new CheckpointError(`${source}: fortran_order is not True or False`);
  if (fortran) throw new CheckpointError(`${source}: Fortran-order arrays are not supported; save with np.ascontiguousarray(arr)`);
  if (!Array.isArray(shape)) throw new CheckpointError(`${source}: shape is not a tuple`);
  checkedNumel(shape, source);
  return { dtype, shape: shape as number[] };
}

/** Parses a whole .npy file held in memory into a tensor of the same dtype. */
export function decodeNpy(bytes: Uint8Array, source = 'npy data'): Tensor {
  const { dtype, shape, dataStart } = readHeader(bytes, source);
  const needed = checkedNumel(shape, source) * dtypeSize[dtype];
  const available = bytes.length - dataStart;
  if (needed !== available) {
    throw new CheckpointError(`${source}: shape (${shape.join(', ')}) of '${descrByDtype[dtype]}' needs ${needed} data bytes but the file holds ${available}`);
  }
  const data = bytes.subarray(dataStart);
  if (dtype === 'bool') checkBoolBytes(data, source);
  return fromBytes(data, dtype, shape);
}

function pythonTuple(shape: number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** The file as chunks: magic, version, padded header, values. */
export function encodeNpyChunks(tensor: Tensor): Uint8Array[] {
  if (!(tensor instanceof Tensor)) throw new CheckpointError(`saveNpy: expected a tensor, got ${describe(tensor)}`);
  const descr = descrByDtype[tensor.dtype];
  if (!descr) throw new CheckpointError(`saveNpy: NumPy has no ${tensor.dtype} type; convert the tensor first (e.g. to float32)`);
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pythonTuple(tensor.shape)}, }`;
  // Pad so the values start on a 64-byte boundary, as NumPy does.
  const version = header.length + 11 > 0xffff ? 2 : 1;
  const prefixLength = version === 1 ? 10 : 12;
  header += ' '.repeat((64 - ((prefixLength + header.length + 1) % 64)) % 64) + '\n';
  const prefix = new Uint8Array(prefixLength);
  prefix.set(MAGIC);
  prefix[6] = version;
  const view = new DataView(prefix.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  return [prefix, new TextEncoder().encode(header), tensor.toBytes()];
}

export function encodeNpy(tensor: Tensor): Uint8Array {
  return concatChunks(encodeNpyChunks(tensor));
}

/** Reads a `.npy` file (C order; float64/32/16, int64/32/16/8, uint8, bool). */
export function loadNpy(path: string): Tensor {
  return decodeNpy(readFileSync(path), path);
}

/** Writes one tensor as a `.npy` file, atomically. */
export function saveNpy(tensor: Tensor, path: string): void {
  writeFileAtomic(path, encodeNpyChunks(tensor));
}
