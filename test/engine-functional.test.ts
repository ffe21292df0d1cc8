// Forward values of the network functions against PyTorch on the same inputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { checkAgainstPyTorch, type ReferenceCase } from './helpers/engine-reference.js';

type Tensor = torch.Tensor;

torch.manualSeed(99);
const randn = (shape: number[]): Tensor => torch.randn(shape);
const tolerance = { rtol: 1e-4, atol: 1e-5 };

describe('network functions match PyTorch', () => {
  const image = randn([2, 4, 9, 8]);
  const runningMean = randn([4]);
  const runningVar = torch.rand([4]).add(0.5);
  const gamma = randn([4]);
  const beta = randn([4]);
  const logits = randn([6, 5]);
  const target = torch.tensor([0, 4, 2, 2, 1, 3]);
  const classWeights = torch.tensor([1, 0.5, 2, 1.5, 0.25]);

  const cases: ReferenceCase[] = [
    {
      id: 'conv2d groups=2 stride 2 dilation 2 padding 1 bias',
      op: 'conv2d',
      inputs: { input: image, weight: randn([6, 2, 3, 3]), bias: randn([6]) },
      params: { stride: 2, padding: 1, dilation: 2, groups: 2 },
      ours: (x) => torch.conv2d(x.input, x.weight, x.bias, { stride: 2, padding: 1, dilation: 2, groups: 2 }),
    },
    {
      id: 'conv2d per-axis stride and padding',
      op: 'conv2d',
      inputs: { input: image, weight: randn([3, 4, 3, 1]) },
      params: { stride: [2, 1], padding: [0, 2], dilation: 1, groups: 1 },
      ours: (x) => torch.conv2d(x.input, x.weight, null, { stride: [2, 1], padding: [0, 2] }),
    },
    {
      id: 'batch_norm training (output and updated running statistics)',
      op: 'batch_norm_train',
      inputs: { input: image, running_mean: runningMean, running_var: runningVar, weight: gamma, bias: beta },
      params: { momentum: 0.2, eps: 1e-4 },
      ours: (x) => {
        const mean = x.running_mean.clone();
        const variance = x.running_var.clone();
        const out = torch.batchNorm(x.input, mean, variance, { weight: x.weight, bias: x.bias, training: true, momentum: 0.2, eps: 1e-4 });
        return [out, mean, variance];
      },
    },
    {
      id: 'batch_norm eval',
      op: 'batch_norm_eval',
      inputs: { input: image, running_mean: runningMean, running_var: runningVar, weight: gamma, bias: beta },
      params: { eps: 1e-5 },
      ours: (x) => torch.batchNorm(x.input, x.running_mean, x.running_var, { weight: x.weight, bias: x.bias }),
    },
    {
      id: 'linear',
      op: 'linear',
      inputs: { input: randn([3, 2, 7]), weight: randn([5, 7]), bias: randn([5]) },
      ours: (x) => torch.linear(x.input, x.weight, x.bias),
    },
    { id: 'relu', op: 'relu', inputs: { input: image }, ours: (x) => torch.relu(x.input) },
    { id: 'prelu per channel', op: 'prelu', inputs: { input: image, weight: randn([4]) }, ours: (x) => torch.prelu(x.input, x.weight) },
    { id: 'sigmoid', op: 'sigmoid', inputs: { input: image }, ours: (x) => torch.sigmoid(x.input) },
    { id: 'softmax', op: 'softmax', inputs: { input: image }, params: { dim: 1 }, ours: (x) => torch.softmax(x.input, 1) },
    { id: 'log_softmax', op: 'log_softmax', inputs: { input: logits }, params: { dim: -1 }, ours: (x) => torch.logSoftmax(x.input, -1) },
    {
      id: 'max_pool2d 3/2/1',
      op: 'max_pool2d',
      inputs: { input: image },
      params: { kernel: 3, stride: 2, padding: 1, dilation: 1, ceil_mode: false },
      ours: (x) => torch.maxPool2d(x.input, 3, { stride: 2, padding: 1 }),
    },
    {
      id: 'max_pool2d dilation and ceil mode',
      op: 'max_pool2d',
      inputs: { input: image },
      params: { kernel: [2, 3], stride: [2, 2], padding: 0, dilation: 2, ceil_mode: true },
      ours: (x) => torch.maxPool2d(x.input, [2, 3], { stride: 2, dilation: 2, ceilMode: true }),
    },
    {
      id: 'avg_pool2d counting padding',
      op: 'avg_pool2d',
      inputs: { input: image },
      params: { kernel: 3, stride: 2, padding: 1, ceil_mode: false, count_include_pad: true },
      ours: (x) => torch.avgPool2d(x.input, 3, { stride: 2, padding: 1 }),
    },
    {
      id: 'avg_pool2d not counting padding, ceil mode',
      op: 'avg_pool2d',
      inputs: { input: image },
      params: { kernel: [3, 2], stride: [2, 3], padding: [1, 1], ceil_mode: true, count_include_pad: false },
      ours: (x) => torch.avgPool2d(x.input, [3, 2], { stride: [2, 3], padding: [1, 1], ceilMode: true, countIncludePad: false }),
    },
    { id: 'adaptive_avg_pool2d 1', op: 'adaptive_avg_pool2d', inputs: { input: image }, params: { size: 1 }, ours: (x) => torch.adaptiveAvgPool2d(x.input, 1) },
    { id: 'adaptive_avg_pool2d [4, 3]', op: 'adaptive_avg_pool2d', inputs: { input: image }, params: { size: [4, 3] }, ours: (x) => torch.adaptiveAvgPool2d(x.input, [4, 3]) },
    { id: 'adaptive_max_pool2d [4, 3]', op: 'adaptive_max_pool2d', inputs: { input: image }, params: { size: [4, 3] }, ours: (x) => torch.adaptiveMaxPool2d(x.input, [4, 3]) },
    {
      id: 'cross_entropy mean',
      op: 'cross_entropy',
      inputs: { input: logits, target },
      params: { reduction: 'mean', ignore_index: -100, label_smoothing: 0 },
      ours: (x) => torch.crossEntropy(x.input, x.target),
    },
    {
      id: 'cross_entropy label smoothing',
      op: 'cross_entropy',
      inputs: { input: logits, target },
      params: { reduction: 'mean', ignore_index: -100, label_smoothing: 0.1 },
      ours: (x) => torch.crossEntropy(x.input, x.target, { labelSmoothing: 0.1 }),
    },
    {
      id: 'cross_entropy weights, smoothing, ignored class',
      op: 'cross_entropy',
      inputs: { input: logits, target, weight: classWeights },
      params: { reduction: 'mean', ignore_index: 2, label_smoothing: 0.3 },
      ours: (x) => torch.crossEntropy(x.input, x.target, { weight: x.weight, ignoreIndex: 2, labelSmoothing: 0.3 }),
    },
    {
      id: 'cross_entropy per sample',
      op: 'cross_entropy',
      inputs: { input: logits, target },
      params: { reduction: 'none', ignore_index: -100, label_smoothing: 0.05 },
      ours: (x) => torch.crossEntropy(x.input, x.target, { reduction: 'none', labelSmoothing: 0.05 }),
    },
    {
      id: 'cross_entropy probability targets',
      op: 'cross_entropy',
      inputs: { input: logits, target: torch.softmax(randn([6, 5]), 1) },
      params: { reduction: 'sum', ignore_index: -100, label_smoothing: 0.1 },
      ours: (x) => torch.crossEntropy(x.input, x.target, { reduction: 'sum', labelSmoothing: 0.1 }),
    },
    ...(['constant', 'reflect', 'replicate', 'circular'] as const).map((mode): ReferenceCase => ({
      id: `pad ${mode}`,
      op: 'pad',
      inputs: { input: image },
      params: { pads: [1, 2, 3, 0], mode, value: -1.5 },
      ours: (x) => torch.pad(x.input, [1, 2, 3, 0], mode, -1.5),
    })),
  ];
  for (const c of cases) c.tolerance ??= tolerance;
  checkAgainstPyTorch(cases, it);
});

describe('dropout', () => {
  it('zeroes about p of the elements and scales the rest by 1 / (1 - p)', () => {
    const x = torch.ones([20000]);
    const y = torch.dropout(x, 0.3, true);
    const values = y.toTypedArray() as Float32Array;
    const zeros = values.filter((v) => v === 0).length;
    assert.ok(Math.abs(zeros / values.length - 0.3) < 0.02, `dropped ${zeros / values.length}`);
    for (const v of values) assert.ok(v === 0 || Math.abs(v - 1 / 0.7) < 1e-6);
  });
  it('is the identity in eval mode and with p = 0', () => {
    const x = randn([4, 5]);
    assert.deepEqual(torch.dropout(x, 0.5, false).toArray(), x.toArray());
    assert.deepEqual(torch.dropout(x, 0, true).toArray(), x.toArray());
  });
  it('passes gradients only through the kept elements', () => {
    const x = torch.ones([1000]).requiresGrad_();
    const y = torch.dropout(x, 0.5, true);
    y.sum().backward();
    const grad = x.grad!.toTypedArray() as Float32Array;
    const kept = y.toTypedArray() as Float32Array;
    for (let i = 0; i < grad.length; i++) assert.equal(grad[i], kept[i] === 0 ? 0 : 2);
  });
});
