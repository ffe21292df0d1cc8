// Bad arguments become JS Errors that carry libtorch's message without its C++
// backtrace, and the process keeps working afterwards; nothing aborts it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

const BACKTRACE = /Exception raised from|frame #\d|\(most recent call first\)/;

function stillWorks(): void {
  assert.equal(torch.tidy(() => torch.ones([3]).add(1).sum().item()), 6);
}

/** `fn` throws an Error whose message matches `text` and holds no C++ backtrace. */
function assertEngineError(fn: () => unknown, text: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    assert.match(error.message, text);
    assert.doesNotMatch(error.message, BACKTRACE);
    return true;
  });
  stillWorks();
}

interface ErrorCase {
  name: string;
  fn: () => unknown;
  text: RegExp;
}

const ones = (shape: number[], dtype: torch.DType = 'float32'): torch.Tensor => torch.ones(shape, { dtype });

const shapeMismatches: ErrorCase[] = [
  { name: 'matmul of incompatible matrices', fn: () => ones([2, 3]).matmul(ones([4, 5])), text: /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/ },
  { name: 'batched matmul with unbroadcastable batches', fn: () => ones([2, 2, 3]).matmul(ones([3, 3, 4])), text: /must match the size of tensor b/ },
  { name: 'conv2d with the wrong input channels', fn: () => torch.conv2d(ones([1, 3, 8, 8]), ones([4, 2, 3, 3])), text: /expected input\[1, 3, 8, 8\] to have 2 channels, but got 3 channels/ },
  { name: 'conv2d with groups not dividing the filters', fn: () => torch.conv2d(ones([1, 4, 8, 8]), ones([4, 2, 3, 3]), null, { groups: 3 }), text: /Given groups=3, expected weight to be divisible by 3/ },
  { name: 'conv2d on a 5-D input', fn: () => torch.conv2d(ones([3, 8, 8, 8, 8]), ones([4, 3, 3, 3])), text: /Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d/ },
  { name: 'conv2d with a kernel larger than the input', fn: () => torch.conv2d(ones([1, 3, 2, 2]), ones([4, 3, 3, 3])), text: /Kernel size can't be greater than actual input size/ },
  { name: 'conv2d mixing float64 and float32', fn: () => torch.conv2d(ones([1, 3, 4, 4], 'float64'), ones([4, 3, 3, 3])), text: /expected scalar type Double but found Float/ },
  { name: 'cat of mismatched shapes', fn: () => torch.cat([ones([2, 3]), ones([2, 4])], 0), text: /Sizes of tensors must match except in dimension 0/ },
  { name: 'cat of nothing', fn: () => torch.cat([], 0), text: /expected a non-empty list of Tensors/ },
  { name: 'stack of unequal shapes', fn: () => torch.stack([ones([2]), ones([3])]), text: /stack expects each tensor to be equal size/ },
  { name: 'view to a different element count', fn: () => ones([2, 3]).view(4, 2), text: /shape '\[4, 2\]' is invalid for input of size 6/ },
  { name: 'view of a non-contiguous tensor', fn: () => ones([2, 3]).T.view(6), text: /view size is not compatible with input tensor's size and stride/ },
  { name: 'reshape with two inferred sizes', fn: () => ones([2, 3]).reshape(-1, -1), text: /only one dimension can be inferred/ },
  { name: 'linear with the wrong in-features', fn: () => torch.linear(ones([2, 3]), ones([4, 5])), text: /mat1 and mat2 shapes cannot be multiplied/ },
  { name: 'expand of a non-singleton dimension', fn: () => ones([2, 3]).expand(4, 3), text: /The expanded size of the tensor \(4\) must match the existing size \(2\)/ },
  { name: 'split sizes that do not add up', fn: () => ones([2, 3]).split([1, 1], 1), text: /split_with_sizes expects split_sizes to sum exactly to 3/ },
  { name: 'add of unbroadcastable shapes', fn: () => ones([2, 3]).add(ones([4])), text: /The size of tensor a \(3\) must match the size of tensor b \(4\)/ },
  { name: 'batchNorm with running statistics of the wrong size', fn: () => torch.batchNorm(ones([2, 3, 4, 4]), torch.zeros([4]), ones([4]), { training: true }), text: /running_mean should contain 3 elements not 4/ },
  { name: 'batchNorm training on one value per channel', fn: () => torch.batchNorm(ones([1, 3]), null, null, { training: true }), text: /expected more than 1 value per channel when training/ },
  { name: 'maxPool2d with an empty output', fn: () => torch.maxPool2d(ones([1, 1, 2, 2]), 5), text: /Output size is too small/ },
  { name: 'reflect padding as large as the input', fn: () => torch.pad(ones([1, 1, 2, 2]), [3, 3, 3, 3], 'reflect'), text: /Padding size should be less than the corresponding input dimension/ },
];

const wrongDtypes: ErrorCase[] = [
  { name: 'crossEntropy with int32 targets', fn: () => torch.crossEntropy(torch.randn([3, 4]), torch.tensor([0, 1, 2], { dtype: 'int32' })), text: /expected scalar type Long but found Int/ },
  { name: 'crossEntropy with float class indices', fn: () => torch.crossEntropy(torch.randn([3, 4]), torch.tensor([0, 1, 2], { dtype: 'float32' })), text: /expected scalar type Long but found Float/ },
  { name: 'crossEntropy with a class out of range', fn: () => torch.crossEntropy(torch.randn([3, 4]), torch.tensor([0, 1, 7])), text: /Target 7 is out of bounds/ },
  { name: 'indexSelect with float indices', fn: () => ones([3]).indexSelect(0, torch.tensor([0.5])), text: /Expected dtype int32 or int64 for index/ },
  { name: 'where with a float condition', fn: () => torch.where(ones([2]), ones([2]), ones([2])), text: /where expected condition to be a boolean tensor/ },
  { name: 'an unknown dtype name', fn: () => torch.zeros([2], { dtype: 'float8' as torch.DType }), text: /unknown dtype 'float8'/ },
  { name: 'a gradient of another dtype', fn: () => { const t = ones([3]).requiresGrad_(); t.grad = ones([3], 'float64'); }, text: /grad must have the dtype and device of the tensor/ },
  { name: 'a gradient of another shape', fn: () => { const t = ones([3]).requiresGrad_(); t.grad = ones([2]); }, text: /grad must have the shape of the tensor: got \[2\], expected \[3\]/ },
];

const badDimsAndSizes: ErrorCase[] = [
  { name: 'sum over a dimension out of range', fn: () => ones([2, 3]).sum(5), text: /Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)/ },
  { name: 'softmax over a dimension out of range', fn: () => torch.softmax(ones([2, 3]), 2), text: /Dimension out of range/ },
  { name: 'transpose with a negative dimension out of range', fn: () => ones([2, 3]).transpose(0, -3), text: /Dimension out of range/ },
  { name: 'slice of a dimension out of range', fn: () => ones([2]).slice(3), text: /Dimension out of range/ },
  { name: 'size() of a dimension out of range', fn: () => ones([2]).size(3), text: /dimension 3 is out of range for a tensor of shape \[2\]/ },
  { name: 'permute with a repeated dimension', fn: () => ones([2, 3]).permute(0, 0), text: /duplicate dims are not allowed/ },
  { name: 'select past the end', fn: () => ones([3]).select(0, 3), text: /index 3 out of range for tensor of size \[3\]/ },
  { name: 'narrow past the end', fn: () => ones([3]).narrow(0, 2, 5), text: /start \(2\) \+ length \(5\) exceeds dimension size \(3\)/ },
  { name: 'indexSelect past the end', fn: () => ones([3]).indexSelect(0, torch.tensor([5])), text: /index out of range in self/ },
  { name: 'zeros with a negative size', fn: () => torch.zeros([2, -3]), text: /Trying to create tensor with negative dimension -3/ },
  { name: 'randn with a negative size', fn: () => torch.randn([-1]), text: /negative dimension -1/ },
  { name: 'a fractional size', fn: () => torch.ones([2.5]), text: /expected an integer, got 2.5/ },
  { name: 'a NaN size', fn: () => torch.ones([NaN]), text: /expected an integer, got nan/ },
  { name: 'an infinite size', fn: () => torch.zeros([Infinity]), text: /expected an integer, got inf/ },
  { name: 'arange with step 0', fn: () => torch.arange(0, 5, 0), text: /step must be nonzero/ },
  { name: 'randint with low >= high', fn: () => torch.randint(5, 2, [3]), text: /expects 'from' to be less than 'to'/ },
  { name: 'item() of several elements', fn: () => ones([3]).item(), text: /item\(\) needs a tensor with one element, got 3/ },
  { name: 'fromBytes with the wrong byte count', fn: () => torch.fromBytes(new Uint8Array(3), 'float32', [1]), text: /3 bytes given, shape \[1\] of float32 needs 4/ },
  { name: 'a ragged nested array', fn: () => torch.tensor([[1, 2], [3]]), text: /ragged nested array/ },
  { name: 'a nested array holding strings', fn: () => torch.tensor([1, 'two'] as unknown as number[]), text: /expected numbers or booleans, got string \(two\)/ },
  { name: 'a thread count of 0', fn: () => torch.setNumThreads(0), text: /setNumThreads: expected a positive integer, got 0/ },
  ...(torch.cuda.isAvailable()
    ? []
    : [
      { name: 'a CUDA device without CUDA', fn: () => torch.zeros([2], { device: 'cuda' }), text: /device 'cuda' requested but this libtorch build has no CUDA support/ },
      { name: 'moving to CUDA without CUDA', fn: () => torch.ones([2]).to('cuda:0'), text: /device 'cuda:0' requested but this libtorch build has no CUDA support/ },
    ]),
  { name: 'an unknown device', fn: () => torch.zeros([2], { device: 'gpu' }), text: /Expected one of cpu, cuda.* device type at start of device string: gpu/ },
];

const hugeAllocations: ErrorCase[] = [
  { name: 'zeros([1e12])', fn: () => torch.zeros([1e12]), text: /DefaultCPUAllocator: can't allocate memory: you tried to allocate 4000000000000 bytes/ },
  { name: 'empty([1e6, 1e6])', fn: () => torch.empty([1e6, 1e6]), text: /can't allocate memory/ },
  { name: 'ones([1e11]) in float64', fn: () => torch.ones([1e11], { dtype: 'float64' }), text: /can't allocate memory: you tried to allocate 800000000000 bytes/ },
  { name: 'randn([1e12])', fn: () => torch.randn([1e12]), text: /can't allocate memory/ },
  { name: 'repeat to 1e12 elements', fn: () => ones([1]).repeat(1e6, 1e6), text: /can't allocate memory/ },
];

const autograd: ErrorCase[] = [
  { name: 'backward() of a tensor without grad', fn: () => ones([1]).sum().backward(), text: /element 0 of tensors does not require grad and does not have a grad_fn/ },
  { name: 'backward() of a non-scalar without a gradient', fn: () => ones([3]).requiresGrad_().mul(2).backward(), text: /grad can be implicitly created only for scalar outputs/ },
  {
    name: 'backward() twice through a freed graph',
    fn: () => {
      const loss = ones([3]).requiresGrad_().exp().sum();
      loss.backward();
      loss.backward();
    },
    text: /Trying to backward through the graph a second time/,
  },
  { name: 'an in-place op on a leaf that requires grad', fn: () => ones([3]).requiresGrad_().add_(1), text: /a leaf Variable that requires grad is being used in an in-place operation/ },
];

const lifetime: ErrorCase[] = [
  { name: 'an op on a disposed tensor', fn: () => { const t = ones([2]); t.dispose(); return t.add(1); }, text: /tensor was used after dispose\(\)/ },
  { name: 'a disposed tensor as an argument', fn: () => { const t = ones([2]); t.dispose(); return ones([2]).add(t); }, text: /tensor was used after dispose\(\)/ },
  { name: 'a disposed tensor in a list', fn: () => { const t = ones([2]); t.dispose(); return torch.cat([t, ones([2])]); }, text: /tensor was used after dispose\(\)/ },
  { name: 'reading values of a disposed tensor', fn: () => { const t = ones([2]); t.dispose(); return t.toTypedArray(); }, text: /tensor was used after dispose\(\)/ },
  { name: 'tidy() given an async function', fn: () => torch.tidy((async () => ones([1])) as unknown as () => torch.Tensor), text: /tidy\(\) takes a synchronous function/ },
  { name: 'noGrad() given an async function', fn: () => torch.noGrad((async () => 1) as unknown as () => number), text: /take a synchronous function/ },
];

const groups: [string, ErrorCase[]][] = [
  ['shape mismatches', shapeMismatches],
  ['wrong dtypes', wrongDtypes],
  ['out-of-range dimensions and bad sizes', badDimsAndSizes],
  ['huge allocations', hugeAllocations],
  ['autograd misuse', autograd],
  ['use after dispose and async scopes', lifetime],
];

for (const [title, cases] of groups) {
  describe(title, () => {
    for (const c of cases) it(c.name, () => assertEngineError(c.fn, c.text));
  });
}

describe('after errors', () => {
  it('a failing op inside tidy leaves no tensor behind', () => {
    const before = liveTensorsAfterCollection();
    assert.throws(() => torch.tidy(() => ones([2, 3]).mul(2).matmul(ones([4, 5]))));
    assert.equal(torch.memory().liveTensors, before);
  });
  it('a disposed tensor stays disposed and disposing twice is harmless', () => {
    const t = ones([2]);
    t.dispose();
    t.dispose();
    assert.equal(t.isDisposed, true);
  });
  it('a failed async tidy frees what the function made before its first await', () => {
    const before = liveTensorsAfterCollection();
    let made: torch.Tensor | undefined;
    const fn = async (): Promise<number> => {
      made = ones([4]);
      return 1;
    };
    assert.throws(() => torch.tidy(fn as unknown as () => number), /synchronous/);
    assert.equal(made?.isDisposed, true);
    assert.equal(torch.memory().liveTensors, before);
  });
  it('grad mode is restored after noGrad() throws', () => {
    assert.throws(() => torch.noGrad(() => ones([2]).matmul(ones([3]))));
    assert.equal(torch.isGradEnabled(), true);
  });
  it('every native entry point survives malformed arguments (separate process)', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/engine-fuzz.ts'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(child.signal, null, `the process was killed by ${child.signal}: ${child.stderr.slice(-2000)}`);
    assert.equal(child.status, 0, child.stderr.slice(-2000));
    const report = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { calls: number; failures: string[] };
    assert.ok(report.calls > 1000, `only ${report.calls} calls ran`);
    assert.deepEqual(report.failures, []);
  });
});
