// Corrupt, forged and malicious checkpoints: every one must throw a CheckpointError
// that says what is wrong, nothing may run, allocate wildly, hang or leak tensors.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { zipSync } from 'fflate';
import * as io from '../src/io/index.js';
import { PickleBuilder } from '../src/io/pickle/builder.js';
import { Op } from '../src/io/pickle/opcodes.js';
import { crc32, crc32Portable } from '../src/io/crc32.js';
import { zipStoredChunks } from '../src/io/zip.js';
import * as torch from '../src/torch/index.js';
import { tempDir } from './helpers/python.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

let mutations = 0;
let liveBefore = 0;
const valid: { safetensors: Uint8Array; npy: Uint8Array; pth: Uint8Array } = {} as never;

/** Runs one mutation: it must throw a CheckpointError whose message matches `pattern`. */
function rejects(label: string, read: () => unknown, pattern: RegExp = /./): void {
  mutations++;
  assert.throws(
    () => torch.tidy(() => void read()),
    (error: unknown) => {
      assert.ok(error instanceof io.CheckpointError, `${label}: threw ${String(error)} instead of a CheckpointError`);
      assert.match(error.message, pattern, label);
      return true;
    },
    label,
  );
}

const readSafetensors = (bytes: Uint8Array) => () => io.decodeSafetensors(bytes, 'model.safetensors');
const readNpy = (bytes: Uint8Array) => () => io.decodeNpy(bytes, 'array.npy');
const readTorch = (bytes: Uint8Array) => () => io.decodeTorchFile(bytes, 'model.pth');

/** Joined into a fresh Uint8Array (not a pooled Buffer, whose slice() would share memory). */
function concat(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}
function flipped(bytes: Uint8Array, offset: number, mask = 0xff): Uint8Array {
  const copy = bytes.slice();
  copy[offset] ^= mask;
  return copy;
}
function u32At(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset, true);
}
function withU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(offset, value, true);
  return copy;
}

before(() => {
  torch.manualSeed(0);
  const dict = {
    'conv.weight': torch.randn([2, 3]),
    bias: torch.arange(3),
    mask: torch.tensor([true, false, true, true]),
    half: torch.tidy(() => torch.randn([2]).to('float16')),
  };
  valid.safetensors = io.encodeSafetensors(dict, { format: 'pt' });
  valid.npy = torch.tidy(() => io.encodeNpy(torch.randn([3, 4])));
  valid.pth = io.encodeTorchFile(dict);
  torch.dispose(dict);
  // The unmutated files read fine (not counted).
  torch.tidy(() => {
    io.decodeSafetensors(valid.safetensors);
    io.decodeNpy(valid.npy);
    io.decodeTorchFile(valid.pth);
  });
  liveBefore = liveTensorsAfterCollection();
});

test('truncation at many offsets', () => {
  for (let end = 0; end < valid.safetensors.length; end++) rejects(`safetensors cut at ${end}`, readSafetensors(valid.safetensors.subarray(0, end)));
  for (let end = 0; end < valid.npy.length; end++) rejects(`npy cut at ${end}`, readNpy(valid.npy.subarray(0, end)));
  for (let end = 0; end < valid.pth.length; end += end < 128 || end > valid.pth.length - 200 ? 1 : 13) {
    rejects(`pth cut at ${end}`, readTorch(valid.pth.subarray(0, end)));
  }
});

test('flipped header bytes', () => {
  const headerEnd = 8 + Number(new DataView(valid.safetensors.buffer, valid.safetensors.byteOffset).getBigUint64(0, true));
  for (let i = 0; i < headerEnd; i++) rejects(`safetensors header byte ${i} flipped`, readSafetensors(flipped(valid.safetensors, i)));
  const npyDataStart = 10 + (valid.npy[8] | (valid.npy[9] << 8));
  for (let i = 0; i < npyDataStart; i++) rejects(`npy header byte ${i} flipped`, readNpy(flipped(valid.npy, i)));

  // torch.save: every byte of every entry is covered by its CRC; the zip structures
  // are checked field by field.
  const pth = valid.pth;
  const end = pth.length - 22;
  const directory = u32At(pth, end + 16);
  const entryFields = [0, 1, 2, 3, 8, 10, 16, 17, 18, 19, 20, 21, 24, 25, 28, 30, 32, 42, 43, 46, 47];
  for (let p = directory, n = 0; p < end; n++) {
    const next = p + 46 + (pth[p + 28] | (pth[p + 29] << 8));
    for (const field of entryFields) rejects(`central entry ${n} byte ${field} flipped`, readTorch(flipped(pth, p + field)));
    const local = u32At(pth, p + 42);
    const localExtra = pth[local + 28] | (pth[local + 29] << 8);
    const nameLength = pth[local + 26];
    for (const field of [0, 3, 8, 14, 15, 18, 22, 26, 28, 30, 31]) rejects(`local header ${n} byte ${field} flipped`, readTorch(flipped(pth, local + field)));
    const dataStart = local + 30 + nameLength + localExtra;
    const size = u32At(pth, p + 24);
    for (let i = 0; i < size; i += Math.max(1, Math.floor(size / 7))) rejects(`entry ${n} data byte ${i} flipped`, readTorch(flipped(pth, dataStart + i)), /CRC/);
    p = next;
  }
  for (const field of [0, 2, 4, 6, 8, 10, 12, 13, 16, 17, 20]) rejects(`end record byte ${field} flipped`, readTorch(flipped(pth, end + field)));
});

function safetensorsWith(header: unknown, data: Uint8Array, lengthDelta = 0): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length + lengthDelta), true);
  return concat([prefix, json, data]);
}

test('forged safetensors headers', () => {
  const data = new Uint8Array(52);
  const good = () => ({
    a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    b: { dtype: 'I64', shape: [3], data_offsets: [24, 48] },
    m: { dtype: 'BOOL', shape: [4], data_offsets: [48, 52] },
  });
  torch.tidy(() => void io.decodeSafetensors(safetensorsWith(good(), data)));
  const forge = (label: string, edit: (h: ReturnType<typeof good> & Record<string, unknown>) => void, pattern: RegExp) => {
    const header = good() as ReturnType<typeof good> & Record<string, unknown>;
    edit(header);
    rejects(label, readSafetensors(safetensorsWith(header, data)), pattern);
  };
  forge('offsets past the data', (h) => (h.m.data_offsets = [48, 56]), /tensor 'm' data offsets \[48, 56\) exceed the data section of 52 bytes/);
  forge('overlapping offsets', (h) => (h.b.data_offsets = [20, 44]), /overlap|needs 24 bytes/);
  forge('overlap with matching sizes', (h) => ((h.b = { dtype: 'F32', shape: [6], data_offsets: [0, 24] }), (h.m.data_offsets = [24, 28])), /overlap/);
  forge('gap between tensors', (h) => ((h.b.shape = [2]), (h.b.data_offsets = [32, 48])), /gap of 8 bytes/);
  forge('trailing uncovered bytes', (h) => delete (h as Record<string, unknown>).m, /4 trailing bytes/);
  forge('begin after end', (h) => (h.a.data_offsets = [24, 0]), /end before they begin/);
  forge('negative offset', (h) => (h.a.data_offsets = [-8, 24]), /non-negative integers/);
  forge('fractional offset', (h) => (h.a.data_offsets = [0, 23.5]), /non-negative integers/);
  forge('string offset', (h) => (h.a.data_offsets = ['0', 24] as never), /non-negative integers/);
  forge('three offsets', (h) => (h.a.data_offsets = [0, 12, 24]), /two non-negative integers/);
  forge('offsets above 2^53', (h) => (h.m.data_offsets = [48, 2 ** 60]), /non-negative integers|exceed/);
  forge('shape does not match the bytes', (h) => (h.a.shape = [2, 4]), /needs 32 bytes but data offsets \[0, 24\) hold 24/);
  forge('negative dimension', (h) => (h.a.shape = [-2, -3]), /not a non-negative integer/);
  forge('fractional dimension', (h) => (h.a.shape = [1.5, 4]), /not a non-negative integer/);
  forge('huge shape', (h) => (h.a.shape = [1e15, 1e15]), /too many elements/);
  forge('huge shape within 2^53', (h) => (h.a.shape = [2 ** 26, 2 ** 26]), /needs \d+ bytes/);
  forge('shape not a list', (h) => (h.a.shape = 6 as never), /shape is missing or not a list/);
  forge('unknown dtype', (h) => (h.a.dtype = 'F8_E4M3'), /unknown or unsupported dtype 'F8_E4M3'/);
  forge('unsupported dtype', (h) => (h.b.dtype = 'U64'), /unsupported dtype 'U64'/);
  forge('lowercase dtype', (h) => (h.a.dtype = 'f32'), /dtype 'f32'/);
  forge('numeric dtype', (h) => (h.a.dtype = 6 as never), /dtype is missing or not a string/);
  forge('inherited-name dtype', (h) => (h.a.dtype = 'constructor'), /unsupported dtype 'constructor'/);
  forge('missing dtype', (h) => delete (h.a as Record<string, unknown>).dtype, /dtype is missing/);
  forge('missing offsets', (h) => delete (h.a as Record<string, unknown>).data_offsets, /data_offsets/);
  forge('unexpected field', (h) => ((h.a as Record<string, unknown>).offset = 0), /unexpected header field 'offset'/);
  forge('entry not an object', (h) => (h.x = 5), /tensor 'x': header entry is not an object/);
  forge('metadata not strings', (h) => (h.__metadata__ = { epoch: 3 }), /__metadata__ 'epoch' is a number/);
  forge('metadata a list', (h) => (h.__metadata__ = ['a']), /__metadata__ is not an object/);
  const bools = data.slice();
  bools[49] = 2;
  rejects('bool byte 2', readSafetensors(safetensorsWith(good(), bools)), /tensor 'm': bool value at element 1 is byte 2/);
  rejects('header a list', readSafetensors(safetensorsWith('[1, 2]  ', new Uint8Array(0))), /does not start with '\{'/);
  rejects('header not JSON', readSafetensors(safetensorsWith('{"a": ', new Uint8Array(0))), /not valid JSON/);
  rejects('header null', readSafetensors(safetensorsWith('null', new Uint8Array(0))), /does not start/);
  rejects('header length 0', readSafetensors(safetensorsWith('', new Uint8Array(0))), /too short/);
  rejects('header length past the end', readSafetensors(safetensorsWith(good(), data, 100)), /runs past the end/);
  rejects('header length one short', readSafetensors(safetensorsWith(good(), data, -1)), /JSON|exceed|trailing/);
  const huge = safetensorsWith(good(), data);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  rejects('header length 2^63', readSafetensors(huge), /above the 100000000-byte limit/);
  rejects('not UTF-8', readSafetensors(safetensorsWith('{"\u00ff": 1}', new Uint8Array(0)).map((b) => (b === 0xc3 ? 0xff : b))), /not valid UTF-8/);
});

function npyWith(header: string, data: Uint8Array, version = 1): Uint8Array {
  const text = new TextEncoder().encode(header);
  const prefix = new Uint8Array(version === 1 ? 10 : 12);
  prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(prefix.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  return concat([prefix, text, data]);
}

test('forged .npy headers', () => {
  const data = new Uint8Array(24);
  const header = (fields: string) => `{${fields}}\n`;
  torch.tidy(() => void io.decodeNpy(npyWith(header(`'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), `), data)));
  const cases: [string, string, RegExp][] = [
    ['complex dtype', `'descr': '<c8', 'fortran_order': False, 'shape': (3,)`, /unsupported dtype '<c8'/],
    ['string dtype', `'descr': '<U3', 'fortran_order': False, 'shape': (2,)`, /unsupported dtype '<U3'/],
    ['object dtype', `'descr': '|O', 'fortran_order': False, 'shape': (3,)`, /object arrays/],
    ['big-endian', `'descr': '>f4', 'fortran_order': False, 'shape': (2, 3)`, /big-endian/],
    ['structured', `'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,)`, /structured arrays/],
    ['Fortran order', `'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)`, /Fortran-order/],
    ['shape too large', `'descr': '<f4', 'fortran_order': False, 'shape': (3, 5)`, /needs 60 data bytes but the file holds 24/],
    ['shape too small', `'descr': '<f4', 'fortran_order': False, 'shape': (2,)`, /needs 8 data bytes/],
    ['deeply nested', `'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(5000)}${')'.repeat(5000)}`, /nests more than 32 levels/],
    ['negative shape', `'descr': '<f4', 'fortran_order': False, 'shape': (-1,)`, /not a non-negative integer/],
    ['huge shape', `'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000, 1000000000000000)`, /too many elements/],
    ['shape above 2^53', `'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)`, /integer out of range/],
    ['fractional shape', `'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)`, /header/],
    ['shape not a tuple', `'descr': '<f4', 'fortran_order': False, 'shape': 6`, /shape is not a tuple/],
    ['missing shape', `'descr': '<f4', 'fortran_order': False`, /needs 'descr', 'fortran_order' and 'shape'/],
    ['extra key', `'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1`, /unexpected header key 'x'/],
    ['repeated key', `'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)`, /repeats key 'descr'/],
    ['fortran_order not bool', `'descr': '<f4', 'fortran_order': 0, 'shape': (6,)`, /fortran_order is not True or False/],
    ['code in header', `'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (6,)`, /unexpected value/],
    ['escaped string', `'descr': '<f\\x34', 'fortran_order': False, 'shape': (6,)`, /escaped string/],
    ['unterminated string', `'descr': '<f4, 'fortran_order': False, 'shape': (6,)`, /header/],
  ];
  for (const [label, fields, pattern] of cases) rejects(label, readNpy(npyWith(header(fields), data)), pattern);
  rejects('no newline', readNpy(npyWith(`{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }`, data)), /does not end with a newline/);
  rejects('not a dict', readNpy(npyWith(`[1, 2]\n`, data)), /expected '\{'/);
  rejects('text after the dict', readNpy(npyWith(`{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x\n`, data)), /text after the dict/);
  rejects('version 4', readNpy(npyWith(header(`'descr': '<f4', 'fortran_order': False, 'shape': (6,)`), data, 4)), /unsupported \.npy format version 4\.0/);
  rejects('bool byte 7', readNpy(npyWith(header(`'descr': '|b1', 'fortran_order': False, 'shape': (24,)`), data.map((_, i) => (i === 5 ? 7 : 0)))), /byte 7, not 0 or 1/);
  rejects('header length past the end', readNpy(withU32(npyWith(header(`'descr': '<f4', 'fortran_order': False, 'shape': (6,)`), data, 2), 8, 0xfffffff0)), /runs past the end/);
  rejects('not a .npy file', readNpy(new TextEncoder().encode('PK\x03\x04 not numpy at all')), /missing the \\x93NUMPY magic/);
});

/** A torch.save archive around a hand-made pickle. */
function archive(pickle: Uint8Array, storages: Record<string, Uint8Array> = { '0': new Uint8Array(24) }, prefix = 'archive'): Uint8Array {
  return concat(
    zipStoredChunks([
      { name: `${prefix}/data.pkl`, data: pickle },
      ...Object.entries(storages).map(([key, data]) => ({ name: `${prefix}/data/${key}`, data })),
      { name: `${prefix}/version`, data: new TextEncoder().encode('3\n') },
    ]),
  );
}
function pickle(body: (b: PickleBuilder) => void): Uint8Array {
  const b = new PickleBuilder().proto(2);
  body(b);
  return b.stop().finish();
}
function tupleOf(b: PickleBuilder, values: number[]): void {
  b.mark();
  for (const value of values) b.int(value);
  b.raw(Op.TUPLE);
}
interface TensorForgery {
  type?: string;
  key?: string;
  numel?: number;
  offset?: number;
  size?: number[];
  stride?: number[];
  requiresGrad?: boolean;
  pid?: (b: PickleBuilder) => void;
}
/** OrderedDict({'w': _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())}). */
function tensorPickle(f: TensorForgery = {}): Uint8Array {
  return pickle((b) => {
    b.global('collections', 'OrderedDict').emptyTuple().reduce().mark().string('w');
    b.global('torch._utils', '_rebuild_tensor_v2').mark();
    if (f.pid) f.pid(b);
    else b.mark().string('storage').global('torch', f.type ?? 'FloatStorage').string(f.key ?? '0').string('cpu').int(f.numel ?? 6).raw(Op.TUPLE);
    b.persid().int(f.offset ?? 0);
    tupleOf(b, f.size ?? [2, 3]);
    tupleOf(b, f.stride ?? [3, 1]);
    b.bool(f.requiresGrad ?? false).global('collections', 'OrderedDict').emptyTuple().reduce().raw(Op.TUPLE).reduce().setitems();
  });
}

test('forged torch.save storages, offsets, sizes, strides and dtypes', () => {
  torch.tidy(() => {
    const loaded = io.decodeTorchFile(archive(tensorPickle())) as Record<string, torch.Tensor>;
    assert.deepEqual(loaded.w.shape, [2, 3]);
  });
  const cases: [string, TensorForgery, RegExp, Record<string, Uint8Array>?][] = [
    ['storage size above its record', { numel: 2 ** 40 }, /storage '0' of 1099511627776 float32 needs 4398046511104 bytes but its record holds 24/],
    ['storage size below its record', { numel: 5 }, /needs 20 bytes but its record holds 24/],
    ['storage size negative', { numel: -6 }, /has size -6/],
    ['storage size 2^70', { pid: (b) => b.mark().string('storage').global('torch', 'FloatStorage').string('0').string('cpu').int(2n ** 70n).raw(Op.TUPLE) }, /has size/],
    ['storage record missing', { key: '7' }, /storage '7' has no record 'archive\/data\/7'/],
    ['storage key with a path', { key: '../0' }, /has no record/],
    ['offset past the storage', { offset: 6 }, /reaches element 11 of a storage of 6 elements/],
    ['offset far past the storage', { offset: 2 ** 50, size: [0], stride: [1] }, /storage of 6 elements/],
    ['size past the storage', { size: [3, 3] }, /reaches element 8/],
    ['stride past the storage', { stride: [4, 1] }, /reaches element 6/],
    ['huge stride', { stride: [2 ** 52, 1] }, /storage of 6 elements/],
    ['negative stride', { stride: [-3, 1] }, /stride must be a tuple of non-negative integers/],
    ['negative size', { size: [-2, 3] }, /size must be a tuple of non-negative integers/],
    ['size and stride lengths differ', { stride: [1] }, /differ in length/],
    ['negative offset', { offset: -1 }, /storage offset -1/],
    ['complex storage', { type: 'ComplexFloatStorage' }, /storage type torch\.ComplexFloatStorage is not supported/],
    ['quantized storage', { type: 'QInt8Storage' }, /torch\.QInt8Storage is not supported/],
    ['made-up storage', { type: 'os' }, /global 'torch\.os' is not allowed/],
    ['int storage needing more bytes', { type: 'LongStorage' }, /needs 48 bytes but its record holds 24/],
    ['integer tensor requiring grad', { type: 'IntStorage', requiresGrad: true }, /int32 tensor cannot require gradients/],
    ['pid not a tuple', { pid: (b) => b.string('storage') }, /persistent id "storage" is not a/],
    ['pid too short', { pid: (b) => b.mark().string('storage').global('torch', 'FloatStorage').string('0').string('cpu').raw(Op.TUPLE) }, /persistent id of 4 items/],
    ['pid not a storage', { pid: (b) => b.mark().string('module').global('torch', 'FloatStorage').string('0').string('cpu').int(6).raw(Op.TUPLE) }, /is not a \('storage'/],
    ['pid without a type', { pid: (b) => b.mark().string('storage').string('FloatStorage').string('0').string('cpu').int(6).raw(Op.TUPLE) }, /does not name a storage type/],
    ['pid key not a string', { pid: (b) => b.mark().string('storage').global('torch', 'FloatStorage').int(0).string('cpu').int(6).raw(Op.TUPLE) }, /key and location must be strings/],
    ['bool storage with byte 3', { type: 'BoolStorage', numel: 6, stride: [3, 1] }, /bool value at element 0 is byte 3/, { '0': new Uint8Array([3, 0, 0, 1, 1, 0]) }],
  ];
  for (const [label, forgery, pattern, storages] of cases) rejects(label, readTorch(archive(tensorPickle(forgery), storages)), pattern);

  // One storage key claimed with two dtypes.
  const twice = pickle((b) => {
    b.mark();
    for (const type of ['FloatStorage', 'IntStorage']) b.mark().string('storage').global('torch', type).string('0').string('cpu').int(6).raw(Op.TUPLE).persid();
    b.raw(Op.TUPLE);
  });
  rejects('storage with two dtypes', readTorch(archive(twice)), /referenced as both torch\.FloatStorage\(6\) and torch\.IntStorage\(6\)/);
});

test('malformed pickles', () => {
  const cases: [string, (b: PickleBuilder) => void, RegExp][] = [
    ['rebuild with too few arguments', (b) => b.global('torch._utils', '_rebuild_tensor_v2').mark().int(1).raw(Op.TUPLE).reduce(), /takes 6 or 7 arguments, got 1/],
    ['rebuild without a storage', (b) => b.global('torch._utils', '_rebuild_tensor_v2').mark().int(0).int(0).emptyTuple().emptyTuple().bool(false).none().raw(Op.TUPLE).reduce(), /first argument is not a storage/],
    ['parameter of a non-tensor', (b) => b.global('torch._utils', '_rebuild_parameter').mark().int(1).bool(true).none().raw(Op.TUPLE).reduce(), /the data is not a tensor/],
    ['REDUCE on a string', (b) => b.string('print').emptyTuple().reduce(), /REDUCE calls a str, which is not an allowed function/],
    ['REDUCE with a list of arguments', (b) => b.global('collections', 'OrderedDict').emptyList().reduce(), /not a tuple/],
    ['BUILD on a dict', (b) => b.emptyDict().emptyDict().build(), /BUILD is only allowed on an OrderedDict/],
    ['BUILD on a list', (b) => b.emptyList().emptyDict().build(), /BUILD is only allowed/],
    ['BUILD with a list state', (b) => b.global('collections', 'OrderedDict').emptyTuple().reduce().emptyList().build(), /must be a dict/],
    ['SETITEMS on a list', (b) => b.emptyList().mark().string('a').int(1).setitems(), /not a dict/],
    ['APPEND on a dict', (b) => b.emptyDict().int(1).raw(Op.APPEND), /not a list/],
    ['APPEND on a tuple', (b) => b.emptyTuple().int(1).raw(Op.APPEND), /not a list/],
    ['odd SETITEMS', (b) => b.emptyDict().mark().string('a').setitems(), /odd number/],
    ['stack underflow', (b) => b.raw(Op.TUPLE2), /stack underflow/],
    ['pop without a mark', (b) => b.int(1).raw(Op.TUPLE), /no MARK/],
    ['unbalanced mark', (b) => b.mark().int(1), /open marks/],
    ['two values at STOP', (b) => b.int(1).int(2), /STOP with 2 values/],
    ['missing memo', (b) => b.get(9), /memo entry 9 was never stored/],
    ['missing long memo', (b) => b.raw(Op.LONG_BINGET).u32(70000), /memo entry 70000/],
    ['negative LONG4', (b) => b.raw(Op.LONG4).u32(0xffffffff), /negative length/],
    ['a LONG4 longer than any state-dict integer (slow to decode)', (b) => b.raw(Op.LONG4).u32(4096).raw(...new Uint8Array(4096)), /LONG4 of 4096 bytes/],
    ['string longer than the pickle', (b) => b.raw(Op.BINUNICODE).u32(0xffffffff), /needs 4294967295 more bytes/],
    ['8-byte string length', (b) => b.raw(Op.BINUNICODE8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), /larger than the whole pickle/],
    ['frame length', (b) => b.raw(Op.FRAME, 0, 0, 0, 0, 0, 0, 0, 0x40), /larger than the whole pickle/],
    ['invalid UTF-8', (b) => b.raw(Op.SHORT_BINUNICODE, 2, 0xc3, 0x28), /not valid UTF-8/],
    ['protocol 9', (b) => b.raw(Op.PROTO, 9), /unsupported pickle protocol 9/],
    ['text PERSID', (b) => b.raw(Op.PERSID, 0x30, 0x0a), /unsupported pickle opcode PERSID/],
    ['EXT1', (b) => b.raw(Op.EXT1, 1), /EXT1 can import and call arbitrary code/],
    ['unknown opcode', (b) => b.raw(0xff), /unsupported pickle opcode 0xff/],
    ['set', (b) => b.raw(Op.EMPTY_SET), /unsupported pickle opcode EMPTY_SET/],
    ['bare storage type', (b) => b.global('torch', 'FloatStorage'), /holds a bare torch\.FloatStorage/],
    ['bare function', (b) => b.global('collections', 'OrderedDict'), /holds a bare collections\.OrderedDict/],
    ['nesting 2000 deep', (b) => {
      for (let i = 0; i < 2000; i++) b.emptyList().mark();
      b.none();
      for (let i = 0; i < 2000; i++) b.appends();
    }, /nests more than 1000 levels/],
  ];
  for (const [label, body, pattern] of cases) rejects(label, readTorch(archive(pickle(body))), pattern);
  rejects('no STOP', readTorch(archive(pickle((b) => b.none()).subarray(0, -1))), /ends without a STOP/);
  rejects('bytes after STOP', readTorch(archive(concat([pickle((b) => b.none()), new Uint8Array([Op.NONE])]))), /1 bytes follow the STOP/);
});

test('malicious pickles never run anything', () => {
  const dir = tempDir('resnets-io-evil-');
  const sentinel = join(dir.path, 'pwned');
  const command = `touch ${sentinel}`;
  const calls: [string, string][] = [
    ['os', 'system'],
    ['posix', 'system'],
    ['nt', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['builtins', 'getattr'],
    ['builtins', '__import__'],
    ['__builtin__', 'eval'],
    ['subprocess', 'Popen'],
    ['subprocess', 'check_output'],
    ['torch', 'load'],
    ['torch.serialization', '_get_layout'],
    ['numpy.core.multiarray', '_reconstruct'],
    ['torch.nn.modules.linear', 'Linear'],
    ['collections', 'OrderedDict.__init__'],
    ['torch._utils', '_rebuild_tensor_v2.__globals__'],
  ];
  for (const [module, name] of calls) {
    const escaped = `${module}.${name}`.replace(/[.$]/g, '\\$&');
    const pattern = new RegExp(`global '${escaped}' is not allowed`);
    // GLOBAL then REDUCE, as a __reduce__ payload does...
    rejects(`GLOBAL ${module}.${name}`, readTorch(archive(pickle((b) => b.global(module, name).mark().string(command).raw(Op.TUPLE).reduce()))), pattern);
    // ... the protocol-4 STACK_GLOBAL form ...
    rejects(`STACK_GLOBAL ${module}.${name}`, readTorch(archive(pickle((b) => b.string(module).string(name).raw(Op.STACK_GLOBAL).string(command).tuple(1).reduce()))), pattern);
    // ... and hidden as one value of an otherwise valid state dict.
    const hidden = pickle((b) => {
      b.global('collections', 'OrderedDict').emptyTuple().reduce().mark().string('fc.weight');
      b.global(module, name).string(command).tuple(1).reduce().setitems();
    });
    rejects(`state dict hiding ${module}.${name}`, readTorch(archive(hidden)), pattern);
  }
  rejects('INST', readTorch(archive(pickle((b) => b.mark().string(command).raw(Op.INST).bytes(new TextEncoder().encode('os\nsystem\n'))))), /INST can import and call arbitrary code/);
  rejects('OBJ', readTorch(archive(pickle((b) => b.mark().global('os', 'system').string(command).raw(Op.OBJ)))), /not allowed/);
  rejects('NEWOBJ of an allowed name', readTorch(archive(pickle((b) => b.global('collections', 'OrderedDict').emptyTuple().raw(Op.NEWOBJ)))), /NEWOBJ would instantiate collections\.OrderedDict; creating objects is not allowed/);
  rejects('NEWOBJ_EX of a list', readTorch(archive(pickle((b) => b.emptyList().emptyTuple().emptyDict().raw(Op.NEWOBJ_EX)))), /NEWOBJ_EX would instantiate a list; creating objects is not allowed/);
  assert.equal(existsSync(sentinel), false, 'nothing ran');
  dir.cleanup();
});

test('broken archives', () => {
  const pkl = tensorPickle();
  // The CRC that catches flipped bytes: node's and the fallback agree on the check value.
  for (const checksum of [crc32, crc32Portable]) assert.equal(checksum(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32Portable(valid.pth), crc32(valid.pth));
  const text = (s: string) => new TextEncoder().encode(s);
  rejects('empty file', readTorch(new Uint8Array(0)), /no zip signature/);
  rejects('random bytes', readTorch(text('definitely not a checkpoint')), /no zip signature/);
  rejects('legacy format', readTorch(new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e])), /pre-1\.6 torch\.save format/);
  rejects('no data.pkl', readTorch(concat(zipStoredChunks([{ name: 'archive/other.pkl', data: pkl }]))), /no <folder>\/data\.pkl record/);
  rejects('two data.pkl', readTorch(concat(zipStoredChunks([{ name: 'a/data.pkl', data: pkl }, { name: 'b/data.pkl', data: pkl }]))), /several data\.pkl/);
  rejects('TorchScript archive', readTorch(concat(zipStoredChunks([{ name: 'm/constants.pkl', data: pkl }, { name: 'm/code/m.py', data: text('') }]))), /TorchScript archive/);
  rejects('duplicate entry', readTorch(concat(zipStoredChunks([{ name: 'a/data.pkl', data: pkl }, { name: 'a/data.pkl', data: pkl }]))), /appears twice/);
  const bigEndian = concat(zipStoredChunks([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/byteorder', data: text('big') }, { name: 'archive/data/0', data: new Uint8Array(24) }]));
  rejects('big-endian archive', readTorch(bigEndian), /byte order 'big' is not supported/);

  // A deflated archive reads; one whose sizes are forged does not.
  const deflated = zipSync({ 'archive/data.pkl': pkl, 'archive/data/0': new Uint8Array(24) }, { level: 6 });
  torch.tidy(() => assert.deepEqual((io.decodeTorchFile(deflated) as Record<string, torch.Tensor>).w.shape, [2, 3]));
  const directory = u32At(deflated, deflated.length - 22 + 16);
  const local = u32At(deflated, directory + 42);
  const forgeSize = (size: number) => withU32(withU32(deflated, directory + 24, size), local + 22, size);
  rejects('deflated size forged to 2 GiB', readTorch(forgeSize(0x7fffffff)), /claims 2147483647 bytes from \d+ compressed bytes/);
  rejects('deflated size forged larger', readTorch(forgeSize(u32At(deflated, directory + 24) + 10)), /inflates to|CRC|does not inflate/);
  const badStream = deflated.slice();
  badStream[local + 30 + 16] ^= 0xff;
  rejects('deflate stream corrupt', readTorch(badStream), /does not inflate|CRC|inflates to/);
  const stored = archive(pkl);
  rejects('stored sizes disagree', readTorch(withU32(stored, u32At(stored, stored.length - 6) + 20, 3)), /compressed size 3 but size/);
  rejects('overlapping entries', readTorch(withU32(stored, u32At(stored, stored.length - 6) + 46 + 'archive/data.pkl'.length + 42, 0)), /names a different entry|overlap/);
});

test('the process survives: good files still read, no tensor leaked, at least 200 mutations ran', () => {
  torch.tidy(() => {
    io.decodeSafetensors(valid.safetensors);
    io.decodeNpy(valid.npy);
    io.decodeTorchFile(valid.pth);
  });
  assert.equal(torch.memory().liveTensors, liveBefore, 'tensors leaked by failed reads');
  assert.ok(mutations >= 200, `only ${mutations} mutations ran`);
  console.log(`io-corrupt: ${mutations} mutations, each rejected with a CheckpointError`);
});

test('messages name the file and say what is wrong in Python terms', () => {
  // A string that is not UTF-8 and a bool storage byte of 2: the file and the place are named.
  const badString = pickle((b) => b.emptyDict().raw(0x58).bytes(new Uint8Array([1, 0, 0, 0, 0xff])));
  rejects('bad UTF-8', readTorch(archive(badString)), /^model\.pth: data\.pkl: byte \d+ \(BINUNICODE\): a string is not valid UTF-8/);
  rejects('int dict key', () => io.stateDictFrom(new Map([[1, torch.zeros([1])]]), 'ints.pth'), /ints\.pth: .*key 1 is an integer, not a string/);
  // '=f4' is NumPy's native byte order, little-endian here: read like '<f4'.
  const native = io.encodeNpy(torch.tidy(() => torch.arange(3).float()));
  const withNative = native.slice();
  withNative[Buffer.from(native).indexOf("'<f4'") + 1] = '='.charCodeAt(0);
  torch.tidy(() => assert.deepEqual(io.decodeNpy(withNative, 'native.npy').toArray(), [0, 1, 2]));
});
