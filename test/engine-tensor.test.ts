// Tensors: creation and dtypes, values out, broadcasting arithmetic and comparisons,
// reductions, matmul, views and memory formats, dtype conversion. Numbers that are not
// obvious are held against PyTorch on the same inputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { checkAgainstPyTorch, type ReferenceCase } from './helpers/engine-reference.js';
import { runPythonCode } from './helpers/python.js';

type Tensor = torch.Tensor;
const ALL_DTYPES: torch.DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'uint8', 'bool'];

torch.manualSeed(1234);
const randn = (shape: number[]): Tensor => torch.randn(shape);
/** Uniform in [low, high): denominators and logarithms stay far from zero. */
const uniform = (shape: number[], low: number, high: number): Tensor => torch.rand(shape).mul(high - low).add(low);
const values = (t: Tensor): number[] => Array.from(t.toTypedArray() as ArrayLike<number | bigint>, Number);

describe('creation and dtypes', () => {
  it('tensor() infers int64, float32 and bool from nested arrays, as PyTorch', () => {
    const ints = torch.tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(ints.shape, [2, 3]);
    assert.equal(ints.dtype, 'int64');
    assert.deepEqual(ints.toArray(), [[1, 2, 3], [4, 5, 6]]);
    const floats = torch.tensor([1, 2.5]);
    assert.equal(floats.dtype, 'float32');
    assert.deepEqual(floats.toArray(), [1, 2.5]);
    const bools = torch.tensor([[true, false], [false, true]]);
    assert.equal(bools.dtype, 'bool');
    assert.deepEqual(bools.toArray(), [[true, false], [false, true]]);
    assert.equal(torch.tensor([true, 2]).dtype, 'int64', 'booleans mixed with integers count as integers');
    assert.deepEqual(torch.tensor([true, 2.5]).toArray(), [1, 2.5]);
    assert.equal(torch.tensor([]).dtype, 'float32');
    assert.deepEqual(torch.tensor([]).shape, [0]);
    const scalar = torch.tensor(7.5);
    assert.deepEqual(scalar.shape, []);
    assert.equal(scalar.item(), 7.5);
    assert.equal(scalar.device, 'cpu');
  });

  it('tensor() honours every dtype', () => {
    for (const dtype of ALL_DTYPES) {
      const t = torch.tensor([[0, 1], [2, 3]], { dtype });
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, [2, 2]);
      const expected = dtype === 'bool' ? [[false, true], [true, true]] : [[0, 1], [2, 3]];
      assert.deepEqual(t.toArray(), expected, dtype);
    }
  });

  it('toTypedArray() returns the array type of each dtype', () => {
    const kinds: Record<torch.DType, unknown> = {
      float32: Float32Array,
      float64: Float64Array,
      float16: Float32Array,
      bfloat16: Float32Array,
      int64: BigInt64Array,
      int32: Int32Array,
      int16: Int16Array,
      int8: Int8Array,
      uint8: Uint8Array,
      bool: Uint8Array,
    };
    for (const dtype of ALL_DTYPES) {
      const array = torch.ones([3], { dtype }).toTypedArray();
      assert.ok(array instanceof (kinds[dtype] as typeof Float32Array), `${dtype} gave ${array.constructor.name}`);
      assert.deepEqual(Array.from(array as ArrayLike<number | bigint>, Number), [1, 1, 1]);
    }
  });

  it('tensor() copies typed arrays with their natural dtype and a given shape', () => {
    const source = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = torch.tensor(source, { shape: [2, 3] });
    source[0] = 100;
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
    assert.equal(torch.tensor(new Float64Array([0.1])).toTypedArray()[0], 0.1);
    const big = torch.tensor(new BigInt64Array([2n ** 40n, -3n]));
    assert.equal(big.dtype, 'int64');
    assert.deepEqual(Array.from(big.toTypedArray() as BigInt64Array), [2n ** 40n, -3n]);
    assert.equal(torch.tensor(new Int32Array([-5, 7])).dtype, 'int32');
    assert.deepEqual(torch.tensor(new Uint8Array([0, 255])).toArray(), [0, 255]);
    // A typed array that is a window onto a larger buffer copies only its window.
    const window = new Float32Array(new Float32Array([9, 1, 2, 9]).buffer, 4, 2);
    assert.deepEqual(torch.tensor(window).toArray(), [1, 2]);
    assert.equal(torch.tensor(new Float32Array([1.5, 2.5]), { dtype: 'float64' }).dtype, 'float64');
  });

  it('zeros, ones, full and empty make every dtype', () => {
    for (const dtype of ALL_DTYPES) {
      const z = torch.zeros([2, 3], { dtype });
      const o = torch.ones([2, 3], { dtype });
      const f = torch.full([2, 3], 1, { dtype });
      const e = torch.empty([4, 1], { dtype });
      for (const t of [z, o, f]) assert.deepEqual([t.shape, t.dtype], [[2, 3], dtype]);
      assert.deepEqual([e.shape, e.dtype], [[4, 1], dtype]);
      assert.deepEqual(values(z), [0, 0, 0, 0, 0, 0]);
      assert.deepEqual(values(o), [1, 1, 1, 1, 1, 1]);
      assert.deepEqual(values(f), values(o));
    }
    assert.deepEqual(torch.full([2], 2.5).toArray(), [2.5, 2.5]);
    assert.equal(torch.full([2], 2.5).dtype, 'float32');
    assert.equal(torch.full([1], true).dtype, 'bool');
    assert.deepEqual(JSON.parse(runPythonCode('import torch, json; print(json.dumps([str(torch.full((1,), 3).dtype), str(torch.full((1,), 2.5).dtype)]))')), ['torch.int64', 'torch.float32']);
    assert.equal(torch.full([1], 3).dtype, 'int64', 'an integer value gives int64, as in PyTorch');
    assert.deepEqual(torch.zeros([0, 3]).shape, [0, 3]);
    assert.equal(torch.zeros([]).item(), 0);
  });

  it('arange follows PyTorch: integer arguments give int64', () => {
    assert.deepEqual(torch.arange(5).toArray(), [0, 1, 2, 3, 4]);
    assert.equal(torch.arange(5).dtype, 'int64');
    assert.deepEqual(torch.arange(1, 10, 3).toArray(), [1, 4, 7]);
    assert.deepEqual(torch.arange(3, 0, -1).toArray(), [3, 2, 1]);
    const fractional = torch.arange(0, 1, 0.25);
    assert.equal(fractional.dtype, 'float32');
    assert.deepEqual(fractional.toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(torch.arange(4, undefined, 1, { dtype: 'float64' }).dtype, 'float64');
  });

  it('randn, rand and randint have the right distribution and follow manualSeed', () => {
    torch.manualSeed(42);
    const normal = torch.randn([20000], { dtype: 'float64' });
    assert.equal(normal.dtype, 'float64');
    assert.ok(Math.abs(normal.mean().item()) < 0.05);
    assert.ok(Math.abs(normal.var().item() - 1) < 0.05);
    const uniform01 = torch.rand([20000]);
    assert.ok(uniform01.min().item() >= 0 && uniform01.max().item() < 1);
    assert.ok(Math.abs(uniform01.mean().item() - 0.5) < 0.02);
    const ints = torch.randint(-2, 3, [5000]);
    assert.equal(ints.dtype, 'int64');
    assert.deepEqual([...new Set(values(ints))].sort(), [-1, -2, 0, 1, 2].sort());
    assert.equal(torch.randint(0, 10, [4], { dtype: 'int32' }).dtype, 'int32');

    torch.manualSeed(7);
    const first = values(torch.randn([8]));
    const firstUniform = values(torch.rand([8]));
    torch.manualSeed(7);
    assert.deepEqual(values(torch.randn([8])), first);
    assert.deepEqual(values(torch.rand([8])), firstUniform);
    torch.manualSeed(8);
    assert.notDeepEqual(values(torch.randn([8])), first);
  });

  it('item() reads one element of any dtype, toArray() nests by shape', () => {
    assert.equal(torch.tensor([[3.5]]).item(), 3.5);
    assert.equal(torch.tensor([-9], { dtype: 'int64' }).item(), -9);
    assert.equal(torch.tensor([true]).item(), 1);
    assert.equal(torch.tensor([0.1], { dtype: 'float64' }).item(), 0.1);
    assert.deepEqual(torch.arange(8).reshape([2, 2, 2]).toArray(), [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]);
    assert.equal(torch.tensor(5).toArray(), 5);
  });

  it('the thread count can be set and read', () => {
    const before = torch.getNumThreads();
    torch.setNumThreads(1);
    assert.equal(torch.getNumThreads(), 1);
    torch.setNumThreads(before);
    assert.equal(torch.getNumThreads(), before);
  });
});

describe('dtype conversion with to()', () => {
  const source = torch.tensor([0, 0.5, 1.5, 2.5, 3.7, 100.25, 255], { dtype: 'float32' });
  const signed = torch.tensor([-2.7, -0.5, 0, 1e-3, 0.3333333432674408, 65504, 70000], { dtype: 'float32' });
  const cases: ReferenceCase[] = [];
  for (const dtype of ALL_DTYPES) {
    cases.push({ id: `to ${dtype}`, op: 'to', inputs: { a: source }, params: { dtype }, ours: (x) => x.a.to(dtype) });
    if (dtype !== 'uint8') {
      cases.push({ id: `signed to ${dtype}`, op: 'to', inputs: { a: signed }, params: { dtype }, ours: (x) => x.a.to(dtype) });
    }
  }
  cases.push({ id: 'int64 to float32', op: 'to', inputs: { a: torch.tensor([-3, 0, 16777217]) }, params: { dtype: 'float32' }, ours: (x) => x.a.to('float32') });
  checkAgainstPyTorch(cases, it);

  it('to() with the same dtype and copy: true gives an independent tensor', () => {
    const a = torch.tensor([1, 2], { dtype: 'float32' });
    const b = a.to({ dtype: 'float32', copy: true });
    b.add_(1);
    assert.deepEqual(a.toArray(), [1, 2]);
    assert.deepEqual(b.toArray(), [2, 3]);
    assert.equal(a.to('cpu').device, 'cpu');
    assert.equal(a.double().dtype, 'float64');
    assert.equal(a.long().dtype, 'int64');
  });
});

describe('elementwise arithmetic and comparisons with broadcasting', () => {
  const a = randn([2, 3, 1]);
  const b = randn([1, 4]);
  const positive = uniform([2, 3, 4], 0.5, 2);
  const exponent = uniform([4], -1.5, 1.5);
  const ints = torch.tensor([[7, -7, 5], [-5, 9, 0]]);
  const intDivisors = torch.tensor([3, 2, -4]);
  const rounded = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49]);
  const cases: ReferenceCase[] = [
    { id: 'add [2,3,1]+[1,4]', op: 'add', inputs: { a, b }, ours: (x) => x.a.add(x.b) },
    { id: 'add with alpha', op: 'add_alpha', inputs: { a, b }, params: { alpha: -2.5 }, ours: (x) => x.a.add(x.b, -2.5) },
    { id: 'sub', op: 'sub', inputs: { a, b }, ours: (x) => x.a.sub(x.b) },
    { id: 'mul', op: 'mul', inputs: { a, b }, ours: (x) => x.a.mul(x.b) },
    { id: 'div', op: 'div', inputs: { a: b, b: positive }, ours: (x) => x.a.div(x.b) },
    { id: 'int64 / int64 is true division', op: 'div', inputs: { a: ints, b: intDivisors }, ours: (x) => x.a.div(x.b) },
    { id: 'int64 / 2 is float', op: 'div_scalar', inputs: { a: ints }, params: { value: 2 }, ours: (x) => x.a.div(2) },
    { id: 'pow', op: 'pow', inputs: { a: positive, b: exponent }, ours: (x) => x.a.pow(x.b) },
    { id: 'remainder of ints (sign of divisor)', op: 'remainder', inputs: { a: ints, b: intDivisors }, ours: (x) => x.a.remainder(x.b) },
    { id: 'maximum', op: 'maximum', inputs: { a, b }, ours: (x) => x.a.maximum(x.b) },
    { id: 'exp', op: 'exp', inputs: { a }, ours: (x) => x.a.exp() },
    { id: 'log', op: 'log', inputs: { a: positive }, ours: (x) => x.a.log() },
    { id: 'rsqrt', op: 'rsqrt', inputs: { a: positive }, ours: (x) => x.a.rsqrt() },
    { id: 'tanh', op: 'tanh', inputs: { a }, ours: (x) => x.a.tanh() },
    { id: 'round half to even', op: 'round', inputs: { a: rounded }, ours: (x) => x.a.round() },
    { id: 'clamp', op: 'clamp', inputs: { a: b }, params: { min: -0.5, max: 0.25 }, ours: (x) => x.a.clamp(-0.5, 0.25) },
    { id: 'eq', op: 'eq', inputs: { a: ints, b: torch.tensor([7, 9, 0]) }, ours: (x) => x.a.eq(x.b) },
    { id: 'lt', op: 'lt', inputs: { a, b }, ours: (x) => x.a.lt(x.b) },
    { id: 'ge', op: 'ge', inputs: { a, b }, ours: (x) => x.a.ge(x.b) },
    { id: 'gt scalar', op: 'gt_scalar', inputs: { a: b }, params: { value: 0.1 }, ours: (x) => x.a.gt(0.1) },
    { id: 'where', op: 'where', inputs: { cond: a.gt(0), a, b }, ours: (x) => torch.where(x.cond, x.a, x.b) },
  ];
  checkAgainstPyTorch(cases, it);

  it('scalars on the right keep integer tensors integral, fractions promote to float', () => {
    const t = torch.tensor([1, 2, 3]);
    assert.equal(t.add(1).dtype, 'int64');
    assert.deepEqual(t.mul(2).toArray(), [2, 4, 6]);
    assert.equal(t.add(0.5).dtype, 'float32');
    assert.deepEqual(t.add(0.5).toArray(), [1.5, 2.5, 3.5]);
    assert.deepEqual(t.rsub(10).toArray(), [9, 8, 7]);
    assert.deepEqual(t.neg().toArray(), [-1, -2, -3]);
    assert.deepEqual(torch.tensor([1.5], { dtype: 'float64' }).add(1).toArray(), [2.5]);
    assert.equal(torch.tensor([1], { dtype: 'float16' }).add(torch.tensor([1], { dtype: 'float32' })).dtype, 'float32');
  });

  it('comparisons give bool tensors', () => {
    const t = torch.tensor([1, 2, 3]);
    const mask = t.gt(1);
    assert.equal(mask.dtype, 'bool');
    assert.deepEqual(mask.toArray(), [false, true, true]);
    assert.deepEqual(t.le(torch.tensor([[2], [0]])).toArray(), [[true, true, false], [false, false, false]]);
    assert.deepEqual(mask.logicalAnd(t.lt(3)).toArray(), [false, true, false]);
    assert.deepEqual(mask.logicalNot().toArray(), [true, false, false]);
    assert.deepEqual(t.maskedFill(mask, 0).toArray(), [1, 0, 0]);
  });

  it('in-place ops change the tensor and return it', () => {
    const t = torch.tensor([1, 2, 3], { dtype: 'float32' });
    assert.equal(t.add_(1), t);
    t.mul_(torch.tensor([2, 3, 4], { dtype: 'float32' })).sub_(1, 2).div_(2);
    assert.deepEqual(t.toArray(), [1, 3.5, 7]);
    t.clamp_(2, 5);
    assert.deepEqual(t.toArray(), [2, 3.5, 5]);
    t.zero_().add_(torch.ones([1]), 3);
    assert.deepEqual(t.toArray(), [3, 3, 3]);
  });

  it('incompatible shapes do not broadcast', () => {
    assert.throws(() => torch.ones([2, 3]).add(torch.ones([4])), /must match the size of tensor b|size of tensor a/);
  });
});

describe('reductions', () => {
  const a = randn([3, 4, 5]);
  const ties = torch.tensor([[1, 3, 3, 0], [2, 2, 1, 2]], { dtype: 'float32' });
  const cases: ReferenceCase[] = [
    { id: 'sum', op: 'sum', inputs: { a }, ours: (x) => x.a.sum(), tolerance: { rtol: 1e-5, atol: 1e-5 } },
    { id: 'sum of int64 stays int64', op: 'sum', inputs: { a: torch.tensor([[1, 2], [3, 4]]) }, ours: (x) => x.a.sum() },
    { id: 'sum of bool counts', op: 'sum', inputs: { a: torch.tensor([true, false, true]) }, ours: (x) => x.a.sum() },
    { id: 'sum dims keepdim', op: 'sum_dims', inputs: { a }, params: { dim: [0, 2], keepdim: true }, ours: (x) => x.a.sum([0, 2], { keepdim: true }) },
    { id: 'sum negative dim', op: 'sum_dims', inputs: { a }, params: { dim: -1, keepdim: false }, ours: (x) => x.a.sum(-1) },
    { id: 'mean dims', op: 'mean_dims', inputs: { a }, params: { dim: [1], keepdim: false }, ours: (x) => x.a.mean([1]) },
    { id: 'var unbiased', op: 'var', inputs: { a }, params: { dim: [2], correction: 1 }, ours: (x) => x.a.var([2]) },
    { id: 'var biased', op: 'var', inputs: { a }, params: { dim: [0, 1], correction: 0 }, ours: (x) => x.a.var([0, 1], { correction: 0 }) },
    { id: 'max', op: 'max', inputs: { a }, ours: (x) => x.a.max() },
    { id: 'max dim', op: 'max_dim', inputs: { a }, params: { dim: 1, keepdim: true }, ours: (x) => { const r = x.a.max(1, true); return [r.values, r.indices]; } },
    { id: 'min dim', op: 'min_dim', inputs: { a }, params: { dim: 0 }, ours: (x) => { const r = x.a.min(0); return [r.values, r.indices]; } },
    { id: 'argmax dim', op: 'argmax', inputs: { a }, params: { dim: 2 }, ours: (x) => x.a.argmax(2) },
    { id: 'argmax of all', op: 'argmax_all', inputs: { a }, ours: (x) => x.a.argmax() },
    { id: 'argmax picks the first of ties', op: 'argmax', inputs: { a: ties }, params: { dim: 1 }, ours: (x) => x.a.argmax(1) },
    { id: 'topk largest', op: 'topk', inputs: { a }, params: { k: 3, dim: -1, largest: true }, ours: (x) => { const r = x.a.topk(3); return [r.values, r.indices]; } },
    { id: 'topk smallest dim 0', op: 'topk', inputs: { a }, params: { k: 2, dim: 0, largest: false }, ours: (x) => { const r = x.a.topk(2, 0, { largest: false }); return [r.values, r.indices]; } },
    { id: 'sort descending', op: 'sort', inputs: { a }, params: { dim: 1, descending: true }, ours: (x) => { const r = x.a.sort(1, true); return [r.values, r.indices]; } },
    { id: 'logsumexp', op: 'logsumexp', inputs: { a }, params: { dim: [1] }, ours: (x) => x.a.logsumexp([1]) },
    { id: 'cumsum', op: 'cumsum', inputs: { a }, params: { dim: 2 }, ours: (x) => x.a.cumsum(2) },
    { id: 'norm', op: 'norm', inputs: { a }, params: { p: 2, dim: [1, 2] }, ours: (x) => x.a.norm(2, [1, 2]) },
  ];
  checkAgainstPyTorch(cases, it);

  it('simple reductions give the obvious numbers', () => {
    const t = torch.tensor([[1, 5, 2], [4, 0, 6]], { dtype: 'float32' });
    assert.equal(t.sum().item(), 18);
    assert.equal(t.mean().item(), 3);
    assert.deepEqual(t.sum(0).toArray(), [5, 5, 8]);
    assert.deepEqual(t.max().item(), 6);
    assert.deepEqual(t.argmax(1).toArray(), [1, 2]);
    const { values: top, indices } = t.topk(2, 1);
    assert.deepEqual(top.toArray(), [[5, 2], [6, 4]]);
    assert.deepEqual(indices.toArray(), [[1, 2], [2, 0]]);
    assert.equal(t.sum(undefined, { dtype: 'float64' }).dtype, 'float64');
    assert.equal(t.gt(3).all().item(), 0);
    assert.equal(t.gt(3).any().item(), 1);
  });
});

describe('matmul', () => {
  const cases: ReferenceCase[] = [
    { id: '2-D', op: 'matmul', inputs: { a: randn([5, 7]), b: randn([7, 3]) }, ours: (x) => x.a.matmul(x.b), tolerance: { atol: 1e-5 } },
    { id: 'batched with broadcasting', op: 'matmul', inputs: { a: randn([2, 1, 3, 4]), b: randn([3, 4, 2]) }, ours: (x) => torch.matmul(x.a, x.b), tolerance: { atol: 1e-5 } },
    { id: 'vector @ matrix', op: 'matmul', inputs: { a: randn([4]), b: randn([4, 6]) }, ours: (x) => x.a.matmul(x.b), tolerance: { atol: 1e-5 } },
    { id: 'matrix @ vector', op: 'matmul', inputs: { a: randn([6, 4]), b: randn([4]) }, ours: (x) => x.a.matmul(x.b), tolerance: { atol: 1e-5 } },
    { id: 'float64', op: 'matmul', inputs: { a: randn([3, 3]).double(), b: randn([3, 2]).double() }, ours: (x) => x.a.matmul(x.b), tolerance: { rtol: 1e-12, atol: 1e-12 } },
  ];
  checkAgainstPyTorch(cases, it);

  it('agrees with a hand-computed product', () => {
    const a = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
    const b = torch.tensor([[5, 6], [7, 8]], { dtype: 'float32' });
    assert.deepEqual(a.matmul(b).toArray(), [[19, 22], [43, 50]]);
    assert.deepEqual(a.matmul(a.T).toArray(), [[5, 11], [11, 25]]);
  });
});

describe('view ops', () => {
  const a = randn([2, 3, 4]);
  const index = torch.tensor([2, 0, 2]);
  const cases: ReferenceCase[] = [
    { id: 'permute', op: 'permute', inputs: { a }, params: { dims: [2, 0, 1] }, ours: (x) => x.a.permute(2, 0, 1) },
    { id: 'transpose', op: 'transpose', inputs: { a }, params: { dim0: 0, dim1: 2 }, ours: (x) => x.a.transpose(0, 2) },
    { id: 'slice with step', op: 'slice', inputs: { a }, params: { dim: 2, start: 1, end: null, step: 2 }, ours: (x) => x.a.slice(2, 1, undefined, 2) },
    { id: 'slice with negative start', op: 'slice', inputs: { a }, params: { dim: 1, start: -2, end: null, step: 1 }, ours: (x) => x.a.slice(1, -2) },
    { id: 'index_select', op: 'index_select', inputs: { a, index }, params: { dim: 2 }, ours: (x) => x.a.indexSelect(2, x.index) },
    { id: 'gather', op: 'gather', inputs: { a, index: torch.randint(0, 4, [2, 3, 2]) }, params: { dim: 2 }, ours: (x) => x.a.gather(2, x.index) },
    { id: 'cat dim 1', op: 'cat', inputs: { a, b: randn([2, 1, 4]) }, params: { dim: 1 }, ours: (x) => torch.cat([x.a, x.b], 1) },
    { id: 'stack dim -1', op: 'stack', inputs: { a, b: randn([2, 3, 4]) }, params: { dim: -1 }, ours: (x) => torch.stack([x.a, x.b], -1) },
    { id: 'split by size', op: 'split', inputs: { a }, params: { size: 3, dim: 2 }, ours: (x) => torch.split(x.a, 3, 2) },
    { id: 'split by sizes', op: 'split', inputs: { a }, params: { size: [1, 2], dim: 1 }, ours: (x) => x.a.split([1, 2], 1) },
    { id: 'chunk', op: 'chunk', inputs: { a }, params: { chunks: 3, dim: 2 }, ours: (x) => torch.chunk(x.a, 3, 2) },
    { id: 'flip', op: 'flip', inputs: { a }, params: { dims: [0, 2] }, ours: (x) => x.a.flip([0, 2]) },
    { id: 'expand', op: 'expand', inputs: { a: randn([3, 1]) }, params: { shape: [2, 3, 4] }, ours: (x) => x.a.expand(2, 3, 4) },
    { id: 'repeat', op: 'repeat', inputs: { a: randn([2, 3]) }, params: { times: [2, 1, 2] }, ours: (x) => x.a.repeat([2, 1, 2]) },
  ];
  checkAgainstPyTorch(cases, it);

  it('reshape, view and flatten keep C order; view shares storage', () => {
    const t = torch.arange(12, undefined, 1, { dtype: 'float32' });
    const r = t.reshape(3, -1);
    assert.deepEqual(r.shape, [3, 4]);
    assert.deepEqual(r.toArray(), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
    const v = t.view([2, 3, 2]);
    v.mul_(2);
    assert.equal(t.toTypedArray()[5], 10, 'an in-place change through a view is visible in its base');
    assert.deepEqual(v.flatten().shape, [12]);
    assert.deepEqual(torch.zeros([2, 3, 4, 5]).flatten(1).shape, [2, 60]);
    assert.deepEqual(torch.zeros([2, 3, 4, 5]).flatten(1, 2).shape, [2, 12, 5]);
  });

  it('squeeze and unsqueeze', () => {
    const t = torch.zeros([1, 3, 1, 2]);
    assert.deepEqual(t.squeeze().shape, [3, 2]);
    assert.deepEqual(t.squeeze(2).shape, [1, 3, 2]);
    assert.deepEqual(t.squeeze(1).shape, [1, 3, 1, 2], 'squeezing a dimension of size 3 changes nothing');
    assert.deepEqual(t.unsqueeze(0).shape, [1, 1, 3, 1, 2]);
    assert.deepEqual(t.unsqueeze(-1).shape, [1, 3, 1, 2, 1]);
  });

  it('narrow, select and slice are views of the same storage', () => {
    const t = torch.arange(10, undefined, 1, { dtype: 'float32' });
    const n = t.narrow(0, 2, 3);
    assert.deepEqual(n.toArray(), [2, 3, 4]);
    n.fill_(-1);
    assert.deepEqual(t.toArray(), [0, 1, -1, -1, -1, 5, 6, 7, 8, 9]);
    const m = torch.arange(6).reshape(2, 3);
    assert.deepEqual(m.select(1, 2).toArray(), [2, 5]);
    assert.deepEqual(m.select(0, -1).toArray(), [3, 4, 5]);
    assert.deepEqual(m.slice(1, 0, 2).toArray(), [[0, 1], [3, 4]]);
  });

  it('transposed and permuted tensors are not contiguous until contiguous()', () => {
    const t = torch.arange(6).reshape(2, 3);
    const tt = t.transpose(0, 1);
    assert.deepEqual(tt.strides, [1, 3]);
    assert.equal(tt.isContiguous(), false);
    assert.throws(() => tt.view(6), /view size is not compatible/);
    const c = tt.contiguous();
    assert.equal(c.isContiguous(), true);
    assert.deepEqual(c.strides, [2, 1]);
    assert.deepEqual(c.view(6).toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(tt.reshape(6).toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(t.T.shape, [3, 2]);
  });

  it('channels-last changes the strides, never the values', () => {
    const x = randn([2, 3, 4, 5]);
    const cl = x.toChannelsLast();
    assert.deepEqual(x.strides, [60, 20, 5, 1]);
    assert.deepEqual(cl.strides, [60, 1, 15, 3]);
    assert.equal(cl.isContiguous('channelsLast'), true);
    assert.equal(cl.isContiguous(), false);
    assert.deepEqual(cl.shape, x.shape);
    assert.deepEqual(values(cl), values(x));
    const back = cl.contiguous();
    assert.deepEqual(back.strides, [60, 20, 5, 1]);
    assert.deepEqual(values(back), values(x));

    // Convolution keeps the memory format and gives the same numbers.
    const weight = randn([6, 3, 3, 3]);
    const plain = torch.conv2d(x, weight, null, { padding: 1 });
    const channelsLast = torch.conv2d(cl, weight.toChannelsLast(), null, { padding: 1 });
    assert.equal(channelsLast.isContiguous('channelsLast'), true);
    assert.ok(channelsLast.allclose(plain, 1e-5, 1e-5));
  });
});
