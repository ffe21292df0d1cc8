// Printing as PyTorch prints: tensors show their values (PyTorch's number formats,
// columns, line breaks, '...' past 1000 elements, dtype and autograd suffixes) and modules
// show their tree (torch.nn's extra_repr for each layer). The expected text is repr() from
// Debian's PyTorch and torchvision (scripts/print_reference.py).
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { createModel } from '../src/models/index.js';
import * as nn from '../src/nn/index.js';
import { tensor, empty, withDefaultDevice } from '../src/torch/creation.js';
import type { DType } from '../src/torch/dtype.js';
import { tidy } from '../src/torch/scope.js';
import { runPython } from './helpers/python.js';

interface TensorCase {
  shape: number[];
  dtype: DType;
  requiresGrad: boolean;
  values: (number | boolean | null)[];
  nonFinite: (string | null)[];
  repr: string;
}
const reference = JSON.parse(runPython('print_reference.py')) as {
  tensors: Record<string, TensorCase>;
  modules: Record<string, string>;
  resnet18: string;
};

const nonFiniteValue = { nan: NaN, inf: Infinity, '-inf': -Infinity } as Record<string, number>;

describe('String(tensor) prints values as PyTorch', () => {
  for (const [name, c] of Object.entries(reference.tensors)) {
    it(name, () =>
      tidy(() => {
        const flat = c.values.map((v, i) => (v === null ? nonFiniteValue[c.nonFinite[i]!] : v)) as number[];
        // float64 values carry a float32 tensor's values exactly.
        const t = flat.length ? tensor(flat, { dtype: c.dtype }).reshape(c.shape) : empty(c.shape, { dtype: c.dtype });
        if (c.requiresGrad) t.requiresGrad_();
        assert.equal(String(t), c.repr);
        assert.equal(inspect(t), c.repr, 'console.log shows the same');
      }),
    );
  }

  it('an operation result names its grad_fn, a meta tensor its size, a disposed one says so', () => {
    tidy(() => {
      const x = tensor([1, 2], { dtype: 'float32' }).requiresGrad_();
      assert.match(String(x.mul(x)), /^tensor\(\[1\., 4\.\], grad_fn=<MulBackward0>\)$/);
      const meta = withDefaultDevice('meta', () => empty([2, 3]));
      assert.equal(String(meta), "tensor(..., device='meta', size=(2, 3))");
      const gone = tensor([1]);
      gone.dispose();
      assert.equal(String(gone), 'tensor(<disposed>)');
    });
  });
});

describe('String(module) prints the tree as PyTorch', () => {
  const made: Record<string, () => nn.Module<never, unknown>> = {
    'Conv2d(3, 64, 7, stride=2, padding=3, bias=False)': () => new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }),
    'Conv2d(64, 128, 3, groups=32, dilation=2)': () => new nn.Conv2d(64, 128, 3, { groups: 32, dilation: 2 }),
    'BatchNorm2d(64)': () => new nn.BatchNorm2d(64),
    'BatchNorm2d(8, eps=0.001, momentum=None, affine=False, track_running_stats=False)': () =>
      new nn.BatchNorm2d(8, { eps: 0.001, momentum: null, affine: false, trackRunningStats: false }),
    'Linear(512, 10)': () => new nn.Linear(512, 10),
    'Linear(4, 2, bias=False)': () => new nn.Linear(4, 2, { bias: false }),
    'ReLU(inplace=True)': () => new nn.ReLU(true),
    'ReLU()': () => new nn.ReLU(),
    'MaxPool2d(3, stride=2, padding=1)': () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
    'AvgPool2d(2)': () => new nn.AvgPool2d(2),
    'AdaptiveAvgPool2d((1, 1))': () => new nn.AdaptiveAvgPool2d([1, 1]),
    'Flatten()': () => new nn.Flatten(),
    'Dropout(0.2)': () => new nn.Dropout(0.2),
    'Identity()': () => new nn.Identity(),
    'PReLU(64)': () => new nn.PReLU(64),
    'Sequential(Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), ReLU(), Sequential(Linear(8, 2)))': () =>
      new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.Sequential(new nn.Linear(8, 2))),
  };
  for (const [name, expected] of Object.entries(reference.modules)) {
    it(name, () => {
      const module = made[name]();
      assert.equal(String(module), expected);
      module.dispose();
    });
  }

  it("resnet18's tree is torchvision's", () => {
    const model = withDefaultDevice('meta', () => createModel('resnet18', { init: false }));
    // Two differences of naming, neither touching the state dict: our stages are a
    // Sequential subclass printed under its own name, and the pooling is timm's
    // selectable global pool where torchvision has AdaptiveAvgPool2d((1, 1)).
    const ours = String(model)
      .replace(/\(layer(\d)\): Stage\(/g, '(layer$1): Sequential(')
      .replace('(avgpool): SelectAdaptivePool2d(pool_type=avg, flatten=True)', '(avgpool): AdaptiveAvgPool2d(output_size=(1, 1))');
    assert.equal(ours, reference.resnet18);
    model.dispose();
  });
});
