// The ten ImageNet ResNets have torchvision's state-dict keys, shapes and parameter
// counts; the torchvision options (numClasses, inChans, zeroInitResidual, groups,
// widthPerGroup, strideOn, replaceStrideWithDilation) and the initialisation do what
// they say.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import * as models from '../src/models/index.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import { Conv2d } from '../src/nn/conv.js';
import { assertSameStructure, torchvisionStructures } from './helpers/models-reference.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

const TEN = [
  'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152',
  'resnext50_32x4d', 'resnext101_32x8d', 'resnext101_64x4d', 'wide_resnet50_2', 'wide_resnet101_2',
];

// The published torchvision counts (1000 classes).
const PUBLISHED_COUNTS: Record<string, number> = {
  resnet18: 11_689_512,
  resnet34: 21_797_672,
  resnet50: 25_557_032,
  resnet101: 44_549_160,
  resnet152: 60_192_808,
  resnext50_32x4d: 25_028_904,
  resnext101_32x8d: 88_791_336,
  wide_resnet50_2: 68_883_240,
};

/** Builds `name` without initialisation (fast), runs `fn`, frees the model. */
function withModel<T>(name: string, options: models.ModelOptions, fn: (model: models.ImageClassifier) => T): T {
  const model = models.createModel(name, { init: false, ...options });
  try {
    return fn(model);
  } finally {
    model.dispose();
  }
}

describe('torchvision structure', () => {
  const reference = torchvisionStructures();

  it('lists the same ten models as torchvision', () => {
    assert.deepEqual(Object.keys(reference).sort(), [...TEN].sort());
    assert.deepEqual(models.listModels('*res*').filter((name) => TEN.includes(name)).sort(), [...TEN].sort());
  });

  for (const name of TEN) {
    it(`${name}: keys in order, shapes and parameter count equal torchvision's`, () => {
      withModel(name, {}, (model) => {
        assertSameStructure(model.stateDict(), reference[name], name);
        assert.equal(model.countParameters(), reference[name].params);
        if (name in PUBLISHED_COUNTS) assert.equal(model.countParameters(), PUBLISHED_COUNTS[name]);
      });
    });
  }

  it('ResNeXt and Wide ResNet are configurations of the bottleneck ResNet', () => {
    withModel('resnet50', { groups: 32, widthPerGroup: 4 }, (model) => assertSameStructure(model.stateDict(), reference.resnext50_32x4d, 'resnet50 32x4d'));
    withModel('resnet50', { widthPerGroup: 128 }, (model) => assertSameStructure(model.stateDict(), reference.wide_resnet50_2, 'resnet50 width 128'));
  });

  it('a grouped 3x3 convolution is one Conv2d with groups, its weight [out, in / groups, 3, 3]', () => {
    withModel('resnext50_32x4d', {}, (model) => {
      const conv = model.getModule('layer1')!.getModule('0')!.getModule('conv2') as Conv2d;
      assert.ok(conv instanceof Conv2d);
      assert.equal(conv.groups, 32);
      assert.deepEqual(conv.weight.shape, [128, 4, 3, 3]);
    });
  });
});

describe('options', () => {
  it('numClasses and inChans change the classifier and the stem', () => {
    withModel('resnet18', { numClasses: 7, inChans: 1 }, (model) => {
      const dict = model.stateDict();
      assert.deepEqual(dict['conv1.weight'].shape, [64, 1, 7, 7]);
      assert.deepEqual(dict['fc.weight'].shape, [7, 512]);
      assert.equal(model.numClasses, 7);
      assert.equal(model.config.inChans, 1);
      const out = torch.tidy(() => model.eval().call(torch.randn([2, 1, 40, 40])).shape);
      assert.deepEqual(out, [2, 7]);
    });
  });

  it('numClasses 0 drops the classifier: forward gives pooled features', () => {
    withModel('resnet50', { numClasses: 0 }, (model) => {
      assert.ok(!Object.keys(model.stateDict()).some((key) => key.startsWith('fc.')));
      assert.deepEqual(torch.tidy(() => model.eval().call(torch.randn([1, 3, 32, 32])).shape), [1, 2048]);
    });
  });

  it('forwardFeatures stops before pooling; forwardHead finishes the pass', () => {
    withModel('resnet18', {}, (model) => {
      model.eval();
      torch.tidy(() => {
        const x = torch.randn([2, 3, 64, 64]);
        const features = model.forwardFeatures(x);
        assert.deepEqual(features.shape, [2, 512, 2, 2]);
        assert.equal(model.numFeatures, 512);
        assert.ok(model.forwardHead(features).allclose(model.call(x), 1e-5, 1e-6));
      });
    });
  });

  it("strideOn '1x1' moves the downsampling stride to the first 1x1 convolution", () => {
    const strides = (model: models.ImageClassifier, stage: string) => {
      const block = model.getModule(stage)!.getModule('0')!;
      return [(block.getModule('conv1') as Conv2d).stride[0], (block.getModule('conv2') as Conv2d).stride[0]];
    };
    withModel('resnet50', {}, (model) => assert.deepEqual(strides(model, 'layer2'), [1, 2]));
    withModel('resnet50', { strideOn: '1x1' }, (model) => {
      for (const stage of ['layer2', 'layer3', 'layer4']) assert.deepEqual(strides(model, stage), [2, 1]);
      assert.deepEqual(strides(model, 'layer1'), [1, 1]);
      assert.deepEqual(torch.tidy(() => model.forwardFeatures(torch.randn([1, 3, 64, 64])).shape), [1, 2048, 2, 2]);
    });
  });

  it('replaceStrideWithDilation keeps the resolution of the dilated stages', () => {
    withModel('resnet50', { replaceStrideWithDilation: [false, true, true] }, (model) => {
      model.eval();
      assert.deepEqual(torch.tidy(() => model.forwardFeatures(torch.randn([1, 3, 64, 64])).shape), [1, 2048, 8, 8]);
      const conv = model.getModule('layer4')!.getModule('1')!.getModule('conv2') as Conv2d;
      assert.deepEqual([conv.dilation, conv.padding], [[4, 4], [4, 4]]);
    });
  });
});

describe('initialisation', () => {
  it("follows torchvision: He-normal (fan-out) convolutions, BatchNorm 1 and 0, Linear's default", () => {
    const model = models.createModel('resnet18');
    try {
      const conv = model.getModule('layer4')!.getModule('1')!.getModule('conv2') as Conv2d;
      const std = torch.tidy(() => conv.weight.var().sqrt().item());
      const expected = Math.sqrt(2 / (512 * 9));
      assert.ok(Math.abs(std / expected - 1) < 0.02, `std ${std} vs ${expected}`);
      const fcBound = 1 / Math.sqrt(512);
      const fcMax = torch.tidy(() => model.stateDict()['fc.weight'].abs().max().item());
      assert.ok(fcMax <= fcBound && fcMax > 0.9 * fcBound, `fc weights within Linear's default bound (max ${fcMax})`);
      for (const [path, module] of model.namedModules()) {
        if (!(module instanceof BatchNorm2d)) continue;
        assert.equal(torch.tidy(() => module.weight!.eq(1).all().item()), 1, `${path}.weight`);
        assert.equal(torch.tidy(() => module.bias!.eq(0).all().item()), 1, `${path}.bias`);
      }
    } finally {
      model.dispose();
    }
  });

  it("zeroInitResidual zeroes each block's last BatchNorm weight and no other", () => {
    for (const [name, last] of [['resnet18', 'bn2'], ['resnet50', 'bn3']]) {
      const model = models.createModel(name, { zeroInitResidual: true });
      try {
        let zeroed = 0;
        for (const [path, module] of model.namedModules()) {
          if (!(module instanceof BatchNorm2d)) continue;
          const isLast = /^layer\d\.\d+\./.test(path) && path.endsWith(`.${last}`);
          const sum = torch.tidy(() => module.weight!.abs().sum().item());
          assert.equal(sum === 0, isLast, `${name} ${path}`);
          if (isLast) zeroed++;
        }
        assert.equal(zeroed, name === 'resnet18' ? 8 : 16);
      } finally {
        model.dispose();
      }
    }
  });
});

describe('memory', () => {
  it('a training forward and backward leave no tensors behind but the output', () => {
    const model = models.createModel('resnet18', { numClasses: 4 });
    try {
      const x = torch.randn([2, 3, 32, 32]);
      const before = liveTensorsAfterCollection();
      torch.tidy(() => {
        const loss = model.call(x).sum();
        loss.backward();
      });
      model.zeroGrad();
      assert.equal(torch.memory().liveTensors, before);
      x.dispose();
    } finally {
      model.dispose();
    }
  });
});
