// The registry: listModels patterns, each model's info, createModel options and custom
// variants built from plain configs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel as createFromRoot, listModels as listFromRoot, nn, torch } from '../src/index.js';
import * as models from '../src/models/index.js';

describe('listModels', () => {
  it('lists the ImageNet and CIFAR ResNets in natural order', () => {
    assert.deepEqual(models.listModels('resnet*'), [
      'resnet18', 'resnet18d', 'resnet20', 'resnet26d', 'resnet32', 'resnet34', 'resnet34d', 'resnet44', 'resnet50', 'resnet50c', 'resnet50d',
      'resnet56', 'resnet101', 'resnet101d', 'resnet110', 'resnet152', 'resnet152d',
      'resnetv2_18', 'resnetv2_34', 'resnetv2_50', 'resnetv2_50d', 'resnetv2_101', 'resnetv2_152',
    ]);
    assert.deepEqual(models.listModels('resnext*'), ['resnext50_32x4d', 'resnext101_32x8d', 'resnext101_64x4d']);
    assert.deepEqual(models.listModels('*resnext*'), ['mxnet_resnext34', 'mxnet_resnext50_32x4d', 'mxnet_resnext101_32x4d', 'resnext50_32x4d', 'resnext101_32x8d', 'resnext101_64x4d', 'seresnext50_32x4d', 'seresnext101_32x4d']);
    assert.deepEqual(models.listModels('wide'), ['wide_resnet50_2', 'wide_resnet101_2']);
    assert.deepEqual(models.listModels('resnet?0'), ['resnet20', 'resnet50']);
    assert.deepEqual(models.listModels('densenet*'), []);
    assert.ok(models.listModels().length >= 15);
    assert.deepEqual(listFromRoot('resnet1*'), ['resnet18', 'resnet18d', 'resnet101', 'resnet101d', 'resnet110', 'resnet152', 'resnet152d']);
  });
});

describe('getModelInfo', () => {
  it('ImageNet models: 3x224x224, ImageNet mean and std, the paper', () => {
    const info = models.getModelInfo('resnext50_32x4d');
    assert.equal(info.family, 'resnext');
    assert.match(info.paper, /Aggregated Residual Transformations/);
    assert.deepEqual(info.defaultInputSize, [3, 224, 224]);
    assert.deepEqual(info.mean, [0.485, 0.456, 0.406]);
    assert.deepEqual(info.std, [0.229, 0.224, 0.225]);
    assert.equal(info.cropPct, 0.875);
    assert.equal(info.numClasses, 1000);
    assert.match(models.getModelInfo('wide_resnet50_2').paper, /Wide Residual Networks/);
    assert.match(models.getModelInfo('resnet152').paper, /Deep Residual Learning/);
  });

  it('CIFAR models: 3x32x32, CIFAR-10 statistics, section 4.2, 10 classes', () => {
    const info = models.getModelInfo('resnet110');
    assert.equal(info.family, 'cifar_resnet');
    assert.match(info.paper, /section 4\.2/);
    assert.deepEqual(info.defaultInputSize, [3, 32, 32]);
    assert.equal(info.mean.length, 3);
    assert.equal(info.numClasses, 10);
  });

  it('every registered model has a complete record', () => {
    for (const name of models.listModels()) {
      const info = models.getModelInfo(name);
      assert.equal(info.name, name);
      assert.ok(info.paper.length > 0 && info.family.length > 0, name);
      assert.equal(info.mean.length, info.defaultInputSize[0], name);
      assert.equal(info.std.length, info.defaultInputSize[0], name);
    }
  });
});

describe('createModel', () => {
  it('builds from the package root too, with the resolved config on the model', () => {
    const model = createFromRoot('resnet18', { numClasses: 3, init: false });
    try {
      assert.ok(model instanceof models.ResNet);
      assert.equal(model.name, 'resnet18');
      assert.deepEqual(model.config, {
        family: 'resnet',
        name: 'resnet18',
        block: 'basic',
        depths: [2, 2, 2, 2],
        widths: [64, 128, 256, 512],
        stemType: '',
        stemWidth: 64,
        avgDown: false,
        groups: 1,
        widthPerGroup: 64,
        attnLayer: '',
        numClasses: 3,
        inChans: 3,
        globalPool: 'avg',
        dropRate: 0,
        dropPathRate: 0,
        outputStride: 32,
        zeroInitResidual: false,
        replaceStrideWithDilation: [false, false, false],
        strideOn: '3x3',
      });
    } finally {
      model.dispose();
    }
  });

  it('a resolved config rebuilds the same architecture', () => {
    const original = models.createModel('resnext50_32x4d', { init: false, numClasses: 10 });
    const rebuilt = models.createModelFromConfig(original.config);
    try {
      const shapes = (m: models.ImageClassifier) => Object.entries(m.stateDict()).map(([key, t]) => `${key}:${t.shape.join('x')}`);
      assert.deepEqual(shapes(rebuilt), shapes(original));
      const copy = original.clone();
      assert.ok(torch.tidy(() => copy.stateDict()['fc.weight'].allclose(original.stateDict()['fc.weight'], 0, 0)), 'clone copies the weights');
      copy.dispose();
    } finally {
      original.dispose();
      rebuilt.dispose();
    }
  });

  it('clone and fusion keep a float64 model float64', () => {
    const [conv, bn] = [new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4)].map((m) => m.to('float64')) as [nn.Conv2d, nn.BatchNorm2d];
    const folded = models.foldBatchNorm(conv, bn.eval());
    assert.equal(folded.weight.dtype, 'float64', 'foldBatchNorm');
    for (const m of [conv, bn, folded]) m.dispose();
    for (const name of ['resnet18', 'resnet20']) {
      const original = models.createModel(name, { numClasses: 3 }).to('float64');
      original.eval();
      const copy = original.clone();
      const fused = models.fuseForInference(original);
      try {
        assert.ok(copy.parameters().every((p) => p.dtype === 'float64'), `${name}: clone`);
        assert.ok(fused.parameters().every((p) => p.dtype === 'float64'), `${name}: fused`);
        torch.tidy(() => {
          const x = torch.randn([1, 3, 32, 32], { dtype: 'float64' });
          const [want, got] = torch.noGrad(() => [original.call(x), fused.call(x)]);
          assert.ok(got.sub(want).abs().max().item() <= 1e-9 * want.abs().max().item(), `${name}: fused output in float64`);
        });
      } finally {
        for (const m of [original, copy, fused]) m.dispose();
      }
    }
  });

  it('a custom variant from a plain config: depths, widths, stem width, block type, groups', () => {
    const model = models.createModelFromConfig({
      name: 'tiny',
      block: 'bottleneck',
      depths: [1, 2],
      widths: [8, 16],
      stemWidth: 8,
      groups: 2,
      widthPerGroup: 32,
      numClasses: 4,
    } as models.ResNetConfig);
    try {
      // Stem 7x7x3x8 + BN 16. Stage 1 (planes 8, width 8, out 32): 1x1 8->8, 3x3 grouped
      // 8->8 (4 in per group), 1x1 8->32, BNs 2*(8+8+32), downsample 1x1 8->32 + BN 64.
      const stem = 7 * 7 * 3 * 8 + 16;
      const stage1 = 8 * 8 + 8 * 4 * 9 + 8 * 32 + 2 * 48 + 8 * 32 + 64;
      // Stage 2 (planes 16, width 16, out 64): first block from 32 channels with a
      // downsample, second from 64.
      const block2 = (inChannels: number) => inChannels * 16 + 16 * 8 * 9 + 16 * 64 + 2 * (16 + 16 + 64);
      const stage2 = block2(32) + 32 * 64 + 128 + block2(64);
      const fc = 64 * 4 + 4;
      assert.equal(model.countParameters(), stem + stage1 + stage2 + fc);
      assert.equal(model.name, 'tiny');
      assert.deepEqual(torch.tidy(() => model.call(torch.randn([2, 3, 32, 32])).shape), [2, 4]);
      assert.match(model.describe(), /tiny \(ResNet, bottleneck blocks, depths \[1, 2\], widths \[8, 16\], groups 2, widthPerGroup 32/);
    } finally {
      model.dispose();
    }
  });

  it('names and families are registered once', () => {
    assert.throws(() => models.registerFamily(models.resnetFamily), /a model family named 'resnet' is already registered/);
    assert.throws(() => models.registerFamily({ ...models.resnetFamily, family: 'resnet_copy' }), /a model named 'resnet18' is already registered/);
  });
});
