// Gradients of the network functions agree with central finite differences in float64.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { gradcheck } from './helpers/gradcheck.js';

type Tensor = torch.Tensor;

torch.manualSeed(2024);
/** A float64 leaf that requires grad. */
const param = (shape: number[], scale = 1): Tensor => torch.randn(shape, { dtype: 'float64' }).mul_(scale).requiresGrad_();
const constant = (shape: number[]): Tensor => torch.randn(shape, { dtype: 'float64' });

function check(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): void {
  const report = gradcheck(fn, inputs);
  assert.ok(report.checked > 0);
}

describe('gradcheck itself', () => {
  it('accepts a correct gradient and rejects a wrong one', () => {
    const x = param([3, 2]);
    check((a) => a.mul(a).sin(), [x]);
    // detach() hides one factor from autograd: backward() gives x, the true derivative is 2x.
    assert.throws(() => gradcheck((a) => a.detach().mul(a), [x]), /backward\(\) gives .* finite differences give/);
  });
});

describe('conv2d', () => {
  it('groups=2, stride 2, dilation 2, padding 1, with bias: input, weight and bias', () => {
    const input = param([2, 4, 7, 7]);
    const weight = param([4, 2, 3, 3]);
    const bias = param([4]);
    check((x, w, b) => torch.conv2d(x, w, b, { stride: 2, padding: 1, dilation: 2, groups: 2 }), [input, weight, bias]);
  });
  it('different stride and padding per axis, no bias', () => {
    const input = param([1, 3, 5, 6]);
    const weight = param([2, 3, 2, 3]);
    check((x, w) => torch.conv2d(x, w, null, { stride: [1, 2], padding: [2, 0] }), [input, weight]);
  });
  it('depthwise (groups = channels)', () => {
    check((x, w) => torch.conv2d(x, w, null, { groups: 3, padding: 1 }), [param([2, 3, 4, 4]), param([3, 1, 3, 3])]);
  });
});

describe('batchNorm', () => {
  it('training mode: input, weight and bias (batch statistics)', () => {
    const runningMean = torch.zeros([3], { dtype: 'float64' });
    const runningVar = torch.ones([3], { dtype: 'float64' });
    check(
      (x, w, b) => torch.batchNorm(x, runningMean, runningVar, { weight: w, bias: b, training: true }),
      [param([4, 3, 2, 3]), param([3]), param([3])],
    );
  });
  it('training mode without running statistics', () => {
    check((x, w, b) => torch.batchNorm(x, null, null, { weight: w, bias: b, training: true, eps: 1e-3 }), [param([5, 2, 3]), param([2]), param([2])]);
  });
  it('eval mode: input, weight and bias (running statistics)', () => {
    const runningMean = constant([3]);
    const runningVar = torch.rand([3], { dtype: 'float64' }).add_(0.5);
    check(
      (x, w, b) => torch.batchNorm(x, runningMean, runningVar, { weight: w, bias: b, training: false }),
      [param([4, 3, 2, 2]), param([3]), param([3])],
    );
  });
});

describe('linear and activations', () => {
  it('linear: input, weight and bias', () => {
    check((x, w, b) => torch.linear(x, w, b), [param([3, 5]), param([4, 5]), param([4])]);
  });
  it('linear on a batch of sequences, no bias', () => {
    check((x, w) => torch.linear(x, w), [param([2, 3, 5]), param([4, 5])]);
  });
  it('prelu with a weight per channel', () => {
    check((x, w) => torch.prelu(x, w), [param([2, 3, 3, 3]), param([3], 0.5)]);
  });
  it('prelu with a single shared weight', () => {
    check((x, w) => torch.prelu(x, w), [param([2, 3, 4]), param([1], 0.5)]);
  });
  it('relu and sigmoid', () => {
    check((x) => torch.sigmoid(torch.relu(x).mul(3).sub(1)), [param([3, 4])]);
  });
  it('softmax and logSoftmax', () => {
    check((x) => torch.softmax(x, 1), [param([3, 5])]);
    check((x) => torch.logSoftmax(x, -1), [param([2, 3, 4])]);
    check((x) => torch.logSoftmax(x, 0), [param([4, 3])]);
  });
});

describe('pooling', () => {
  it('maxPool2d with stride and padding', () => {
    check((x) => torch.maxPool2d(x, 3, { stride: 2, padding: 1 }), [param([2, 2, 6, 6])]);
  });
  it('maxPool2d with dilation and ceil mode', () => {
    check((x) => torch.maxPool2d(x, 2, { stride: 2, dilation: 2, ceilMode: true }), [param([1, 2, 7, 7])]);
  });
  it('avgPool2d, padding counted and not counted', () => {
    check((x) => torch.avgPool2d(x, 3, { stride: 2, padding: 1 }), [param([2, 2, 6, 5])]);
    check((x) => torch.avgPool2d(x, [2, 3], { stride: [2, 1], padding: [1, 1], ceilMode: true, countIncludePad: false }), [param([1, 2, 5, 5])]);
  });
  it('adaptiveAvgPool2d to sizes that do not divide the input', () => {
    check((x) => torch.adaptiveAvgPool2d(x, [3, 2]), [param([2, 2, 7, 5])]);
    check((x) => torch.adaptiveAvgPool2d(x, 1), [param([2, 3, 4, 4])]);
  });
  it('adaptiveMaxPool2d to sizes that do not divide the input', () => {
    check((x) => torch.adaptiveMaxPool2d(x, [3, 2]), [param([2, 2, 7, 5])]);
  });
});

describe('crossEntropy', () => {
  const target = torch.tensor([0, 3, 1, 3, 2]);
  it('class indices, mean reduction', () => {
    check((x) => torch.crossEntropy(x, target), [param([5, 4])]);
  });
  it('with label smoothing', () => {
    check((x) => torch.crossEntropy(x, target, { labelSmoothing: 0.1 }), [param([5, 4])]);
  });
  it('with class weights, label smoothing and an ignored index', () => {
    const weight = torch.tensor([1, 0.5, 2, 1.5], { dtype: 'float64' });
    check((x) => torch.crossEntropy(x, target, { weight, labelSmoothing: 0.2, ignoreIndex: 1 }), [param([5, 4])]);
  });
  it('per-sample losses over a spatial map', () => {
    const spatialTarget = torch.randint(0, 3, [2, 2, 2]);
    check((x) => torch.crossEntropy(x, spatialTarget, { reduction: 'none' }), [param([2, 3, 2, 2])]);
  });
  it('class probabilities as target', () => {
    const probabilities = torch.softmax(constant([5, 4]), 1);
    check((x) => torch.crossEntropy(x, probabilities, { labelSmoothing: 0.1, reduction: 'sum' }), [param([5, 4])]);
  });
});

describe('pad', () => {
  for (const mode of ['constant', 'reflect', 'replicate', 'circular'] as const) {
    it(`${mode} padding`, () => {
      check((x) => torch.pad(x, [1, 2, 2, 1], mode, 0.5), [param([1, 2, 3, 4])]);
    });
  }
});
