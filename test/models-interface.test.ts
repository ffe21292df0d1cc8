// The interface every model has: forwardFeatures / forwardHead(preLogits) / forward,
// resetClassifier, featureInfo and features-only backbones, outputStride, the options
// that apply across families, the activation module after each residual add, and the
// one checkpoint path (inChans adaptation, a full checkpoint into a backbone).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { models, nn, torch } from '../src/index.js';

const maxDiff = (a: torch.Tensor, b: torch.Tensor) => torch.tidy(() => a.sub(b).abs().max().item());
const tiny = { block: 'basic', depths: [1, 1, 1, 1], widths: [4, 8, 8, 16], stemWidth: 4, numClasses: 5 } as const;

describe('forwardFeatures, forwardHead and resetClassifier', () => {
  it('forward = forwardHead(forwardFeatures); preLogits gives the pooled features', () => {
    const model = models.createModelFromConfig({ ...tiny, name: 'tiny' }).eval();
    torch.tidy(() => {
      const x = torch.randn([2, 3, 32, 32]);
      const features = model.forwardFeatures(x);
      assert.deepEqual(features.shape, [2, 16, 1, 1]);
      assert.equal(maxDiff(model.forwardHead(features), model.call(x)), 0);
      assert.deepEqual(model.forwardHead(features, { preLogits: true }).shape, [2, 16]);
    });
    model.dispose();
  });

  it('resetClassifier: a new class count, another pooling, or none at all; clone keeps it', () => {
    const model = models.createModel('resnet18', { numClasses: 3, init: false }).eval();
    model.resetClassifier(7, 'catavgmax');
    assert.deepEqual(model.stateDict()['fc.weight'].shape, [7, 1024]);
    assert.equal(model.config.numClasses, 7);
    const copy = model.clone();
    assert.deepEqual(copy.stateDict()['fc.weight'].shape, [7, 1024]);
    model.resetClassifier(0);
    assert.equal(model.numClasses, 0);
    assert.ok(!('fc.weight' in model.stateDict()));
    torch.tidy(() => assert.deepEqual(model.call(torch.randn([1, 3, 32, 32])).shape, [1, 1024]));
    for (const m of [model, copy]) m.dispose();
  });

  it('numClasses 0 returns pooled features; globalPool "" the feature map', () => {
    const pooled = models.createModel('resnet20', { numClasses: 0 });
    const map = models.createModel('resnet20', { numClasses: 0, globalPool: '' });
    torch.tidy(() => {
      const x = torch.randn([2, 3, 16, 16]);
      assert.deepEqual(pooled.call(x).shape, [2, 64]);
      assert.deepEqual(map.call(x).shape, [2, 64, 4, 4]);
    });
    assert.throws(() => models.createModel('resnet20', { globalPool: '' }), /globalPool '' \(no pooling\) needs numClasses 0/);
    for (const m of [pooled, map]) m.dispose();
  });

  it('setGradCheckpointing says it is not supported yet', () => {
    const model = models.createModel('resnet20', { init: false });
    assert.throws(() => model.setGradCheckpointing(), /activation checkpointing \(setGradCheckpointing\) is not yet supported/);
    model.setGradCheckpointing(false);
    model.dispose();
  });
});

describe('the activation after the residual add', () => {
  it("runs through the block's registered ReLU: as many calls as torchvision makes", () => {
    const count = (model: nn.Module<unknown, unknown>) => {
      let calls = 0;
      for (const [, m] of model.namedModules()) if (m instanceof nn.ReLU) m.registerForwardHook(() => calls++);
      torch.tidy(() => model.call(torch.randn([1, 3, 32, 32]) as never));
      return calls;
    };
    const basic = models.createModelFromConfig({ ...tiny, depths: [2, 1, 1, 1] }).eval();
    const bottleneck = models.createModelFromConfig({ ...tiny, block: 'bottleneck', depths: [2, 1, 1, 1] }).eval();
    // torchvision: the stem's ReLU, then per BasicBlock 2 calls of its relu, per Bottleneck 3.
    assert.equal(count(basic), 1 + 2 * 5);
    assert.equal(count(bottleneck), 1 + 3 * 5);
    for (const m of [basic, bottleneck]) m.dispose();
  });
});

describe('featureInfo and featuresOnly', () => {
  it('C1..C5 at strides 2..32: the backbone outputs equal the full model intermediate activations', () => {
    const full = models.createModel('resnet18', { init: false }).eval();
    const info = full.featureInfo;
    assert.deepEqual(info.map((f) => [f.module, f.numChs, f.reduction]), [['relu', 64, 2], ['layer1', 64, 4], ['layer2', 128, 8], ['layer3', 256, 16], ['layer4', 512, 32]]);
    const backbone = models.createModel('resnet18', { featuresOnly: true, init: false });
    assert.ok(!Object.keys(backbone.stateDict()).some((key) => key.startsWith('fc.')), 'no classifier keys');
    backbone.loadStateDict(full.stateDict());
    backbone.eval();
    torch.tidy(() => {
      const captured = new Map<string, torch.Tensor>();
      for (const { module } of info) {
        full.getModule(module)!.registerForwardHook((_m, _in, out) => {
          // Kept: the forward pass frees what it does not return.
          if (!captured.has(module)) captured.set(module, (out as torch.Tensor).clone().keep());
        });
      }
      const x = torch.randn([1, 3, 64, 64]);
      full.call(x);
      const outputs = backbone.call(x);
      assert.equal(outputs.length, 5);
      outputs.forEach((out, i) => {
        assert.deepEqual(out.shape, [1, info[i].numChs, 64 / info[i].reduction, 64 / info[i].reduction]);
        assert.equal(maxDiff(out, captured.get(info[i].module)!), 0, info[i].module);
      });
      torch.dispose([...captured.values()]);
    });
    const some = models.createModel('resnet18', { featuresOnly: true, outIndices: [4, 2], init: false });
    assert.deepEqual(some.featureInfo.map((f) => f.module), ['layer2', 'layer4']);
    assert.throws(() => models.createModel('resnet18', { featuresOnly: true, outIndices: [5] }), /outIndices entries must be integers 0\.\.4/);
    for (const m of [full, backbone, some]) m.dispose();
  });

  it('outputStride 16 and 8 dilate the last stages, on ImageNet and CIFAR ResNets alike', () => {
    for (const [name, outputStride, size, want] of [
      ['resnet18', 16, 64, [512, 4]],
      ['resnet50', 8, 64, [2048, 8]],
      ['resnet20', 2, 16, [64, 8]],
    ] as const) {
      const model = models.createModelByName(name, { outputStride, init: false, numClasses: 0, globalPool: '' }) as models.ImageClassifier;
      assert.equal(model.featureInfo[model.featureInfo.length - 1].reduction, outputStride);
      torch.tidy(() => assert.deepEqual(model.call(torch.randn([1, 3, size, size])).shape, [1, want[0], want[1], want[1]]));
      model.dispose();
    }
    assert.throws(() => models.createModel('resnet18', { outputStride: 12 }), /outputStride must be one of 8, 16, 32, got 12/);
  });
});

describe('loading checkpoints', () => {
  it('a 3-channel checkpoint into inChans 1: a grey image gives what the RGB model gives on it repeated', () => {
    const rgb = models.createModel('resnet18', { numClasses: 4 }).eval();
    const grey = models.createModel('resnet18', { numClasses: 4, inChans: 1, init: false });
    models.loadCheckpoint(grey, rgb.stateDict());
    grey.eval();
    torch.tidy(() => {
      const image = torch.randn([2, 1, 32, 32]);
      const want = rgb.call(image.repeat([1, 3, 1, 1]));
      assert.ok(maxDiff(grey.call(image), want) < 1e-4 * Math.max(1, want.abs().max().item()));
    });
    // Other counts repeat the RGB weight and rescale by 3 / C.
    const five = models.createModel('resnet18', { numClasses: 4, inChans: 5, init: false });
    models.loadCheckpoint(five, rgb.stateDict());
    torch.tidy(() => {
      const w = rgb.stateDict()['conv1.weight'];
      const adapted = five.stateDict()['conv1.weight'];
      assert.ok(maxDiff(adapted.slice(1, 0, 3), w.mul(3 / 5)) < 1e-7);
      assert.ok(maxDiff(adapted.slice(1, 3, 5), w.slice(1, 0, 2).mul(3 / 5)) < 1e-7);
    });
    for (const m of [rgb, grey, five]) m.dispose();
  });

  it("a mismatch is one line naming the source and the first keys; DataParallel's prefix is dropped", () => {
    const small = models.createModel('resnet18', { init: false });
    const other = models.createModel('resnet34', { init: false });
    assert.throws(() => models.loadCheckpoint(other, small.stateDict(), { source: 'r18.pth' }), /^Error: 'r18\.pth' does not fit resnet34: missing keys: layer1\.2\./);
    const prefixed = Object.fromEntries(Object.entries(small.stateDict()).map(([k, v]) => [`module.${k}`, v]));
    const copy = models.createModel('resnet18', { init: false });
    models.loadCheckpoint(copy, prefixed);
    assert.equal(maxDiff(copy.stateDict()['fc.weight'], small.stateDict()['fc.weight']), 0);
    for (const m of [small, other, copy]) m.dispose();
  });
});
