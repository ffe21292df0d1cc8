// Eval-mode outputs equal torchvision's to 1e-4 relative on the same weights, read from
// torch.save and safetensors checkpoints written by PyTorch; so do the inference-only
// versions (BatchNorm folded, channels-last) and the v1 / dilated / training variants.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io, torch } from '../src/index.js';
import * as models from '../src/models/index.js';
import { Identity } from '../src/nn/basic.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import { Conv2d } from '../src/nn/conv.js';
import { relativeError, writeTorchvisionFixtures, type TorchvisionFixture } from './helpers/models-reference.js';
import { tempDir } from './helpers/python.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

const TOLERANCE = 1e-4;
const INPUT = [2, 3, 64, 64];

// `fuseCopy`: also fuse a copy (the widest model, 69M parameters, fuses in place only,
// to keep the suite fast).
const FIXTURES: (TorchvisionFixture & { fuseCopy: boolean })[] = [
  { name: 'resnet18', format: 'pth', input: INPUT, seed: 1, variants: ['train'], fuseCopy: true },
  { name: 'resnet50', format: 'safetensors', input: INPUT, seed: 2, variants: ['v1', 'dilated'], fuseCopy: true },
  { name: 'resnext50_32x4d', format: 'pth', input: INPUT, seed: 3, fuseCopy: true },
  { name: 'wide_resnet50_2', format: 'safetensors', input: INPUT, seed: 4, fuseCopy: false },
];

const dir = tempDir('resnets-models-');
after(() => dir.cleanup());
before(() => writeTorchvisionFixtures(dir.path, FIXTURES));

interface Loaded {
  model: models.ImageClassifier;
  data: io.StateDict;
}

/** Builds `name` with `options`, loads PyTorch's checkpoint into it; the caller frees both. */
function load(fixture: TorchvisionFixture, options: models.ModelOptions = {}): Loaded {
  const checkpoint = io.load(join(dir.path, `${fixture.name}.${fixture.format}`)) as io.StateDict;
  const model = models.createModel(fixture.name, { init: false, ...options });
  try {
    model.loadStateDict(checkpoint);
  } finally {
    torch.dispose(checkpoint);
  }
  const data = io.load(join(dir.path, `${fixture.name}-io.safetensors`)) as io.StateDict;
  return { model, data };
}

function errorOf(model: models.ImageClassifier, input: torch.Tensor, expected: torch.Tensor): number {
  return torch.tidy(() => relativeError(torch.noGrad(() => model.call(input)), expected));
}

describe('outputs equal torchvision', () => {
  for (const fixture of FIXTURES) {
    const title = fixture.fuseCopy ? 'eval, fused copy, fused in place with channels-last' : 'eval, fused in place with channels-last';
    it(`${fixture.name} (${fixture.format}): ${title}`, () => {
      const { model, data } = load(fixture);
      try {
        model.eval();
        assert.ok(errorOf(model, data.input, data.output) < TOLERANCE, 'eval output');

        if (fixture.fuseCopy) {
          const fused = models.fuseForInference(model);
          try {
            assert.ok(fused.inferenceOnly && !model.inferenceOnly, 'the original is left as it was');
            assert.ok(![...fused.namedModules()].some(([, m]) => m instanceof BatchNorm2d), 'every BatchNorm is folded');
            assert.ok(errorOf(fused, data.input, data.output) < TOLERANCE, 'fused output');
          } finally {
            fused.dispose();
          }
          assert.ok(errorOf(model, data.input, data.output) < TOLERANCE, 'the original still gives its output');
        }

        const channelsLast = models.fuseForInference(model, { channelsLast: true, inPlace: true });
        assert.equal(channelsLast, model, 'inPlace fuses the model itself');
        const weight = channelsLast.stateDict()['layer1.0.conv2.weight'];
        assert.ok(weight.isContiguous('channelsLast') && !weight.isContiguous(), 'weights are channels-last');
        assert.ok(errorOf(channelsLast, data.input, data.output) < TOLERANCE, 'fused channels-last output');
      } finally {
        model.dispose();
        torch.dispose(data);
      }
    });
  }

  it('resnet18 in training mode: output with batch statistics, and gradients', () => {
    const { model, data } = load(FIXTURES[0]);
    try {
      model.train();
      torch.tidy(() => {
        const output = model.call(data.input);
        assert.ok(relativeError(output, data.output_train) < TOLERANCE, 'training-mode output');
        output.square().mean().backward();
      });
      const parameters = Object.fromEntries(model.namedParameters());
      const gradients = Object.keys(data).filter((key) => key.startsWith('grad:'));
      assert.equal(gradients.length, 5);
      for (const key of gradients) {
        const grad = parameters[key.slice('grad:'.length)].grad!;
        assert.ok(relativeError(grad, data[key]) < TOLERANCE, key);
        grad.dispose();
      }
    } finally {
      model.dispose();
      torch.dispose(data);
    }
  });

  it("resnet50 with strideOn '1x1' equals torchvision with the stride moved to conv1", () => {
    const { model, data } = load(FIXTURES[1], { strideOn: '1x1' });
    try {
      model.eval();
      assert.ok(errorOf(model, data.input, data.output_v1) < TOLERANCE, 'v1 output');
      assert.ok(errorOf(model, data.input, data.output) > 1e-2, 'and differs from v1.5');
    } finally {
      model.dispose();
      torch.dispose(data);
    }
  });

  it('resnet50 with replaceStrideWithDilation [false, true, true] equals torchvision', () => {
    const { model, data } = load(FIXTURES[1], { replaceStrideWithDilation: [false, true, true] });
    try {
      model.eval();
      assert.ok(errorOf(model, data.input, data.output_dilated) < TOLERANCE);
      const fused = models.fuseForInference(model, { channelsLast: true, inPlace: true });
      assert.ok(errorOf(fused, data.input, data.output_dilated) < TOLERANCE, 'fused dilated output');
    } finally {
      model.dispose();
      torch.dispose(data);
    }
  });
});

describe('fusion', () => {
  it('foldBatchNorm and foldBatchNormInto_ compute the eval BatchNorm of the convolution (bias, groups, stride)', () => {
    torch.tidy(() => {
      const conv = new Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2, bias: true });
      const bn = new BatchNorm2d(6, { eps: 1e-3 }).eval();
      torch.noGrad(() => {
        bn.runningMean!.copy_(torch.randn([6]));
        bn.runningVar!.copy_(torch.rand([6]).add(0.5));
        bn.weight!.copy_(torch.randn([6]));
        bn.bias!.copy_(torch.randn([6]));
      });
      const x = torch.randn([2, 4, 9, 9]);
      const expected = torch.noGrad(() => bn.call(conv.call(x)));
      const weightBefore = conv.weight.clone();
      const folded = models.foldBatchNorm(conv, bn);
      assert.ok(conv.weight.allclose(weightBefore, 0, 0), 'foldBatchNorm leaves the convolution as it was');
      assert.ok(relativeError(torch.noGrad(() => folded.call(x)), expected) < 1e-6);
      const plain = new Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2, bias: false });
      const plainExpected = torch.noGrad(() => bn.call(plain.call(x)));
      assert.equal(models.foldBatchNormInto_(plain, bn), plain);
      assert.deepEqual(Object.keys(plain.stateDict()), ['weight', 'bias']);
      assert.ok(relativeError(torch.noGrad(() => plain.call(x)), plainExpected) < 1e-6);
      [conv, bn, folded, plain].forEach((m) => m.dispose());
    });
  });

  it('folds conv -> BatchNorm pairs into convolutions with a bias, in blocks and downsample Sequentials', () => {
    const model = models.createModel('resnet50').eval();
    const fused = models.fuseForInference(model);
    try {
      const keys = Object.keys(fused.stateDict());
      assert.ok(keys.includes('layer1.0.conv3.bias') && keys.includes('layer1.0.downsample.0.bias') && keys.includes('conv1.bias'));
      assert.ok(!keys.some((key) => key.includes('bn') || key.endsWith('running_mean') || key.includes('downsample.1.')));
      const block = fused.getModule('layer2')!.getModule('0')!;
      assert.ok(block.getModule('bn2') instanceof Identity);
      // Each BatchNorm's weight and bias (2C) become one convolution bias (C).
      const normChannels = [...model.namedModules()].reduce((sum, [, m]) => sum + (m instanceof BatchNorm2d ? m.numFeatures : 0), 0);
      assert.equal(fused.countParameters(), model.countParameters() - normChannels);
      assert.throws(() => fused.train(), /fused for inference.*cannot train/);
      assert.throws(() => models.fuseForInference(fused), /already fused/);
      assert.equal(fused.parameters().filter((p) => p.requiresGrad).length, 0);
    } finally {
      model.dispose();
      fused.dispose();
    }
  });

  it('a fused forward records no graph and leaves no tensors behind', () => {
    const model = models.fuseForInference(models.createModel('resnet18'), { inPlace: true, channelsLast: true });
    try {
      const x = torch.randn([1, 3, 32, 32]);
      const before = liveTensorsAfterCollection();
      const y = model.call(x);
      assert.equal(y.requiresGrad, false);
      assert.equal(torch.memory().liveTensors, before + 1);
      torch.dispose([x, y]);
    } finally {
      model.dispose();
    }
  });
});
