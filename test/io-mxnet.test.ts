// MXNet .params files: files written by scripts/mxnet_params.py (numpy, from the
// documented layout, in the V2, V1, V3 and legacy array layouts) load with their names,
// dtypes, shapes and values; files we write read back in that script and in our own
// reader; every kind of damage is a CheckpointError that says what is wrong.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import * as torch from '../src/torch/index.js';
import { runPython, tempDir } from './helpers/python.js';

interface Described {
  dtype: string;
  shape: number[];
  values: (number | boolean)[];
}

const dir = tempDir('resnets-mxnet-');
after(() => dir.cleanup());
before(() => runPython('mxnet_params.py', ['fixture', dir.path]));

function values(tensor: torch.Tensor): (number | boolean)[] {
  if (tensor.dtype === 'bool') return Array.from(tensor.toTypedArray() as Uint8Array, (v) => v === 1);
  if (tensor.dtype === 'int64') return Array.from(tensor.toTypedArray() as BigInt64Array, Number);
  return Array.from(tensor.toTypedArray() as ArrayLike<number>);
}

function describeDict(dict: io.StateDict): Record<string, Described> {
  return Object.fromEntries(Object.entries(dict).map(([name, tensor]) => [name, { dtype: tensor.dtype, shape: tensor.shape, values: values(tensor) }]));
}

function assertHolds(actual: Record<string, Described>, expected: Record<string, Described>, label: string): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected), `${label}: names in order`);
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name];
    assert.equal(got.dtype, want.dtype, `${label}: ${name} dtype`);
    assert.deepEqual(got.shape, want.shape, `${label}: ${name} shape`);
    want.values.forEach((value, i) => {
      const close = typeof value === 'number' && Math.abs((got.values[i] as number) - value) <= 1e-6 * Math.max(1, Math.abs(value));
      assert.ok(close || got.values[i] === value, `${label}: ${name}[${i}] is ${got.values[i]}, expected ${value}`);
    });
  }
}

describe('MXNet .params', () => {
  for (const layout of ['v2', 'v1', 'v3', 'legacy']) {
    it(`reads the ${layout} array layout written by numpy`, () => {
      const expected = JSON.parse(readFileSync(join(dir.path, `${layout}.json`), 'utf8')) as Record<string, Described>;
      const dict = io.load(join(dir.path, `${layout}.params`));
      try {
        assertHolds(describeDict(dict), expected, layout);
      } finally {
        torch.dispose(dict);
      }
    });
  }

  it('writes files that numpy reads back and that round-trip', () => {
    const path = join(dir.path, 'ours.params');
    const original = io.load(join(dir.path, 'v2.params'));
    try {
      io.save(original, path);
      const expected = JSON.parse(readFileSync(join(dir.path, 'v2.json'), 'utf8')) as Record<string, Described>;
      assertHolds(JSON.parse(runPython('mxnet_params.py', ['dump', path])) as Record<string, Described>, expected, 'numpy reads ours');
      assert.deepEqual(readFileSync(path), readFileSync(join(dir.path, 'v2.params')), 'byte for byte the layout numpy writes');
      const again = io.load(path);
      try {
        assertHolds(describeDict(again), expected, 'round trip');
      } finally {
        torch.dispose(again);
      }
    } finally {
      torch.dispose(original);
    }
  });

  it('refuses what the format cannot hold', () => {
    torch.tidy(() => {
      assert.throws(() => io.encodeMxnetParams({ num_batches_tracked: torch.tensor(3) }), /'num_batches_tracked' is a 0-d tensor/);
    });
  });
});

describe('damaged .params files are errors, never a crash', () => {
  let valid: Uint8Array;
  before(() => {
    valid = new Uint8Array(readFileSync(join(dir.path, 'v2.params')));
  });
  const decode = (bytes: Uint8Array) => () => torch.tidy(() => void io.decodeMxnetParams(bytes, 'model-0000.params'));
  const rejects = (bytes: Uint8Array, pattern: RegExp, label: string) =>
    assert.throws(decode(bytes), (error: unknown) => error instanceof io.CheckpointError && pattern.test(error.message), label);
  const withU32 = (offset: number, value: number) => {
    const copy = valid.slice();
    new DataView(copy.buffer).setUint32(offset, value, true);
    return copy;
  };
  const withU64 = (offset: number, value: bigint) => {
    const copy = valid.slice();
    new DataView(copy.buffer).setBigUint64(offset, value, true);
    return copy;
  };
  // The first array starts at byte 24: magic, storage type, ndim (4) then four int64 dims.
  const FIRST = 24;

  it('names what is wrong', () => {
    const live = torch.memory().tensors;
    rejects(new Uint8Array(0), /not an MXNet \.params file/, 'empty');
    rejects(withU64(0, 0x113n), /not an MXNet \.params file/, 'list magic');
    rejects(withU64(8, 1n), /reserved field/, 'reserved');
    rejects(withU64(16, 1n << 40n), /array count \d+ at offset 16 is more than/, 'array count');
    rejects(withU32(FIRST + 4, 1), /row-sparse storage; only dense/, 'sparse');
    rejects(withU32(FIRST + 4, 2), /CSR storage/, 'csr');
    rejects(withU32(FIRST + 8, 0), /empty \(none\) NDArray/, 'none array');
    rejects(withU32(FIRST + 8, 0xffffff), /dimensions \(corrupt shape\?\)/, 'ndim');
    rejects(withU64(FIRST + 12, 1n << 62n), /dimension|too many elements|needs/, 'dimension');
    const typeFlag = FIRST + 12 + 32 + 8;
    rejects(withU32(typeFlag - 8, 9), /device type 9/, 'device');
    rejects(withU32(typeFlag, 9), /dtype uint16, which libtorch cannot hold/, 'uint16');
    rejects(withU32(typeFlag, 99), /unknown type flag 99/, 'type flag');
    for (const cut of [10, 20, FIRST + 6, typeFlag + 10, valid.length - 3]) rejects(valid.subarray(0, cut), /truncated|not an MXNet|more than the \d+ bytes left/, `truncated at ${cut}`);
    rejects(new Uint8Array([...valid, 0]), /1 trailing bytes/, 'trailing');
    assert.equal(torch.memory().tensors, live, 'no tensor is left behind');
  });

  it('rejects a name count that does not match and duplicate names', () => {
    const path = join(dir.path, 'two.params');
    torch.tidy(() => io.save({ 'arg:a': torch.ones([2]), 'arg:b': torch.ones([2]) }, path));
    const two = new Uint8Array(readFileSync(path));
    // Layout: 24 header bytes, two arrays of 4+4+4+8+12+8 = 40 bytes, then the name count.
    const names = 24 + 2 * 40;
    const badCount = two.slice();
    new DataView(badCount.buffer).setBigUint64(names, 1n, true);
    rejects(badCount, /1 names for 2 arrays/, 'name count');
    const duplicate = two.slice();
    duplicate[duplicate.length - 1] = 'a'.charCodeAt(0);
    rejects(duplicate, /the name 'arg:a' appears twice/, 'duplicate');
    writeFileSync(path, two);
  });
});

describe('MXNet symbol files', () => {
  it('parses nodes, attributes (attrs, attr or param) and heads', () => {
    const symbol = io.parseMxnetSymbol(
      JSON.stringify({
        nodes: [
          { op: 'null', name: 'data', inputs: [] },
          { op: 'null', name: 'conv0_weight', inputs: [] },
          { op: 'Convolution', name: 'conv0', param: { kernel: '(7, 7)' }, attrs: { num_filter: '64' }, inputs: [[0, 0, 0], [1, 0, 0]] },
        ],
        heads: [[2, 0, 0]],
      }),
    );
    assert.deepEqual(symbol.nodes[2], { op: 'Convolution', name: 'conv0', attrs: { kernel: '(7, 7)', num_filter: '64' }, inputs: [0, 1] });
    assert.deepEqual(symbol.heads, [2]);
    assert.deepEqual(io.attrNumbers('(3, 3)'), [3, 3]);
    assert.equal(io.symbolPathFor('/models/r100-0000.params'), '/models/r100-symbol.json');
  });

  it('names what is wrong in a damaged symbol', () => {
    const reject = (text: string, pattern: RegExp) => assert.throws(() => io.parseMxnetSymbol(text, 'model-symbol.json'), (error: unknown) => error instanceof io.CheckpointError && pattern.test(error.message));
    reject('{"nodes": [', /not valid JSON/);
    reject('[1, 2]', /not an MXNet symbol file/);
    reject('{"nodes": [{"op": "null"}], "heads": []}', /node 0 is not \{op, name, inputs\}/);
    reject('{"nodes": [{"op": "relu", "name": "a", "inputs": [[5, 0, 0]]}], "heads": []}', /node 0 \('a'\) input: \[5,0,0\] does not name one of the 0 nodes/);
    reject('{"nodes": [{"op": "null", "name": "a", "inputs": [], "attrs": {"k": 3}}], "heads": [[0, 0, 0]]}', /attribute 'k' is not a string/);
    reject('{"nodes": [{"op": "null", "name": "a", "inputs": []}], "heads": [[1, 0, 0]]}', /head: \[1,0,0\] does not name one of the 1 nodes/);
  });
});
