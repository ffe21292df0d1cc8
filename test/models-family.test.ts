// The residual families beyond torchvision, against PyTorch modules written from timm's
// layout (scripts/resnet_family_reference.py): ResNet v2 (pre-activation, and the
// paper's CIFAR nets), SE-ResNet / SE-ResNeXt, ResNet-C/D. Keys, shapes and counts of
// every model; eval outputs to 1e-4 from .pth and .safetensors checkpoints (and with
// outputStride 16); stochastic depth; backbones; a few training steps.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io, layers, models, nn, tools, torch, train } from '../src/index.js';
import { assertSameStructure, relativeError, type Structure } from './helpers/models-reference.js';
import { runPython, tempDir } from './helpers/python.js';

const NEW_MODELS = [
  'seresnet18', 'seresnet34', 'seresnet50', 'seresnet101', 'seresnet152', 'seresnext50_32x4d', 'seresnext101_32x4d',
  'resnet18d', 'resnet26d', 'resnet34d', 'resnet50c', 'resnet50d', 'resnet101d', 'resnet152d',
  'resnetv2_18', 'resnetv2_34', 'resnetv2_50', 'resnetv2_101', 'resnetv2_152', 'resnetv2_50d', 'preact_resnet110', 'preact_resnet164',
];

// timm's published parameter counts (1000 classes), which the reference must reproduce.
const TIMM_COUNTS: Record<string, number> = {
  resnet50d: 25_576_264, resnet26d: 16_014_408, resnet101d: 44_568_392, seresnet50: 28_088_024,
  seresnext50_32x4d: 27_559_896, resnetv2_50: 25_549_352, resnetv2_50d: 25_568_584,
};

describe('structure against the reference', () => {
  it('every new model: state-dict keys in order, shapes, parameter counts', () => {
    const reference = JSON.parse(runPython('resnet_family_reference.py', ['structure', JSON.stringify(NEW_MODELS)])) as Record<string, Structure>;
    for (const [name, count] of Object.entries(TIMM_COUNTS)) assert.equal(reference[name].params, count, `reference ${name} vs timm`);
    for (const name of NEW_MODELS) {
      const model = torch.withDefaultDevice('meta', () => models.createModelByName(name, { init: false })) as models.ImageClassifier;
      try {
        assertSameStructure(model.stateDict(), reference[name], name);
        assert.equal(model.countParameters(), reference[name].params, `${name} parameters`);
      } finally {
        model.dispose();
      }
    }
    // The paper's CIFAR pre-activation nets: about 1.7M parameters each (He et al. 2016, table 3).
    for (const name of ['preact_resnet110', 'preact_resnet164']) assert.ok(Math.abs(reference[name].params - 1.7e6) < 0.05e6, name);
  });
});

interface Fixture {
  name: models.ModelName;
  input: number[];
  seed: number;
  output_stride?: number;
}

const FIXTURES: Fixture[] = [
  { name: 'resnetv2_50d', input: [2, 3, 64, 64], seed: 1, output_stride: 16 },
  { name: 'seresnet18', input: [2, 3, 64, 64], seed: 2 },
  { name: 'resnet26d', input: [2, 3, 64, 64], seed: 3, output_stride: 16 },
  { name: 'seresnext50_32x4d', input: [1, 3, 64, 64], seed: 4 },
  { name: 'preact_resnet164', input: [2, 3, 32, 32], seed: 5 },
];

const dir = tempDir('resnets-family-');
after(() => dir.cleanup());
before(() => runPython('resnet_family_reference.py', ['fixtures', dir.path, JSON.stringify(FIXTURES)]));

function loaded(name: string, format: 'pth' | 'safetensors', options: models.ModelOptions = {}): models.ImageClassifier {
  const checkpoint = io.load(join(dir.path, `${name}.${format}`)) as io.StateDict;
  const model = models.createModelByName(name, { init: false, ...options }) as models.ImageClassifier;
  try {
    models.loadCheckpoint(model, checkpoint);
  } finally {
    torch.dispose(checkpoint);
  }
  return model.eval();
}

describe('eval outputs equal the reference', () => {
  for (const fixture of FIXTURES) {
    it(`${fixture.name}: from .pth and .safetensors${fixture.output_stride ? ', outputStride 16' : ''}, and prepared for inference`, () => {
      const data = io.load(join(dir.path, `${fixture.name}-io.safetensors`)) as io.StateDict;
      try {
        for (const format of ['pth', 'safetensors'] as const) {
          const model = loaded(fixture.name, format);
          try {
            torch.tidy(() => assert.ok(relativeError(torch.noGrad(() => model.call(data.input)), data.output) < 1e-4, `${fixture.name}.${format}`));
            if (format === 'pth') {
              const fast = tools.prepareForInference(model, { fuse: true, layout: 'channels-last' });
              torch.tidy(() => assert.ok(relativeError(fast.call(data.input), data.output) < 1e-4, `${fixture.name} fused, channels-last`));
            }
          } finally {
            model.dispose();
          }
        }
        if (fixture.output_stride) {
          const dilated = loaded(fixture.name, 'safetensors', { outputStride: fixture.output_stride });
          torch.tidy(() => assert.ok(relativeError(torch.noGrad(() => dilated.call(data.input)), data.output_os) < 1e-4, `${fixture.name} outputStride`));
          dilated.dispose();
        }
      } finally {
        torch.dispose(data);
      }
    });
  }
});

const tinyV2 = { family: 'resnetv2', block: 'bottleneck', depths: [1, 2], channels: [16, 32], stemWidth: 8, numClasses: 3 } as const;
const tinySe = { block: 'basic', depths: [1, 1, 1, 1], widths: [8, 8, 16, 16], stemWidth: 8, attnLayer: 'se', numClasses: 3 } as const;
const tinyD = { block: 'bottleneck', depths: [1, 1, 2, 1], widths: [4, 4, 8, 8], stemType: 'deep', stemWidth: 8, avgDown: true, numClasses: 3 } as const;
const tinyPreactCifar = { family: 'resnetv2', block: 'basic', depths: [1, 1, 1], channels: [8, 16, 16], stemType: 'cifar', stemWidth: 8, numClasses: 3 } as const;

describe('stochastic depth', () => {
  it("per-block rates follow timm's linear rule over the whole network", () => {
    for (const config of [tinyV2, tinyD]) {
      const model = models.createModelFromConfig({ ...config, dropPathRate: 0.2 });
      const rates = [...model.namedModules()].filter(([, m]) => m instanceof layers.DropPath).map(([, m]) => (m as layers.DropPath).p);
      const blocks = config.depths.reduce((a, b) => a + b, 0);
      // The first block's rate is 0, so it has no DropPath module.
      assert.deepEqual(rates, layers.dropPathRates(config.depths, 0.2).flat().slice(1));
      assert.equal(rates.length, blocks - 1);
      assert.ok(Math.abs(rates[rates.length - 1] - 0.2) < 1e-12);
      model.dispose();
    }
  });

  it('is off in eval mode (the output of dropPathRate 0 with the same weights) and active in training', () => {
    for (const config of [tinyV2, tinySe, tinyD, tinyPreactCifar]) {
      const plain = models.createModelFromConfig(config);
      const dropping = models.createModelFromConfig({ ...config, dropPathRate: 0.5 });
      dropping.loadStateDict(plain.stateDict());
      torch.tidy(() => {
        const x = torch.randn([4, 3, 32, 32]);
        plain.eval();
        dropping.eval();
        assert.equal(relativeError(dropping.call(x), plain.call(x)), 0, `${config.family ?? 'resnet'} eval`);
        plain.train();
        dropping.train();
        torch.manualSeed(3);
        const a = dropping.call(x);
        torch.manualSeed(3);
        const b = dropping.call(x);
        assert.equal(relativeError(a, b), 0, 'the same seed drops the same paths');
        torch.manualSeed(3);
        assert.ok(relativeError(a, plain.call(x)) > 1e-3, 'training drops paths');
      });
      plain.dispose();
      dropping.dispose();
    }
  });
});

describe('backbones', () => {
  it('ResNet v2 features equal the intermediate activations; a full checkpoint loads', () => {
    const full = models.createModel('resnetv2_50d', { init: false });
    models.loadCheckpoint(full, io.load(join(dir.path, 'resnetv2_50d.safetensors')) as io.StateDict);
    full.eval();
    assert.deepEqual(full.featureInfo.map((f) => [f.module, f.numChs, f.reduction]), [
      ['stem.conv3', 64, 2], ['stages.0', 256, 4], ['stages.1', 512, 8], ['stages.2', 1024, 16], ['stages.3', 2048, 32],
    ]);
    const backbone = models.createModel('resnetv2_50d', { featuresOnly: true, outIndices: [0, 2, 4], init: false });
    models.loadCheckpoint(backbone, full.stateDict());
    backbone.eval();
    torch.tidy(() => {
      const captured = new Map<string, torch.Tensor>();
      const stop = ['stem.conv3', 'stages.1', 'stages.3'].map((path) => {
        const [root, child] = path.split('.');
        return (full.getModule(root) as nn.Module).getModule(child)!.registerForwardHook((_m, _in, out) => {
          captured.set(path, (out as torch.Tensor).clone().keep());
        });
      });
      const x = torch.randn([1, 3, 64, 64]);
      full.call(x);
      const features = backbone.call(x);
      assert.deepEqual(features.map((f) => f.shape), [[1, 64, 32, 32], [1, 512, 8, 8], [1, 2048, 2, 2]]);
      ['stem.conv3', 'stages.1', 'stages.3'].forEach((path, i) => assert.equal(relativeError(features[i], captured.get(path)!), 0, path));
      stop.forEach((remove) => remove());
      torch.dispose([...captured.values()]);
    });
    full.dispose();
    backbone.dispose();
  });
});

describe('training', () => {
  it('a few steps on random data lower the loss for each new kind', () => {
    for (const config of [tinyV2, tinySe, tinyD, tinyPreactCifar]) {
      torch.manualSeed(1);
      const model = models.createModelFromConfig({ ...config, dropPathRate: 0.1 });
      const optimizer = new train.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const images = torch.randn([8, 3, 32, 32]);
      const labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1], { dtype: 'int64' });
      const loss = train.crossEntropyLoss();
      model.train();
      const losses = Array.from({ length: 6 }, () => train.trainingStep({ model, optimizer, images, labels, loss }).loss);
      assert.ok(losses[losses.length - 1] < losses[0], `${JSON.stringify(config)}: ${losses.join(', ')}`);
      optimizer.disposeState();
      torch.dispose([images, labels]);
      model.dispose();
    }
  });
});
