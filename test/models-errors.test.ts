// A wrong input, a checkpoint of another model, an unknown name or a bad option is an
// error that says what was expected.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { io, torch } from '../src/index.js';
import * as models from '../src/models/index.js';
import { tempDir } from './helpers/python.js';

function withModel<T>(name: string, options: models.ModelOptions, fn: (model: models.ImageClassifier) => T): T {
  const model = models.createModel(name, options);
  try {
    return fn(model);
  } finally {
    model.dispose();
  }
}

describe('inputs', () => {
  it('3 channels into an inChans 1 model names the expected shape and the one given', () => {
    withModel('resnet18', { inChans: 1 }, (model) => {
      const x = torch.zeros([2, 3, 32, 32]);
      assert.throws(() => model.call(x), { message: /resnet18 expects input \[N, 1, H, W\] \(inChans 1\), got \[2, 3, 32, 32\]/ });
      assert.throws(() => model.forwardFeatures(x), /expects input \[N, 1, H, W\]/);
      x.dispose();
    });
  });

  it('a 2-D tensor is refused before any layer runs', () => {
    withModel('resnet20', {}, (model) => {
      const x = torch.zeros([4, 3072]);
      assert.throws(() => model.call(x), { message: /resnet20 expects input \[N, 3, H, W\] \(inChans 3\), got \[4, 3072\]/ });
      x.dispose();
    });
  });

  it('an integer tensor is refused with a hint', () => {
    withModel('resnet20', {}, (model) => {
      const x = torch.zeros([1, 3, 32, 32], { dtype: 'uint8' });
      assert.throws(() => model.call(x), /expects a floating-point input, got uint8/);
      x.dispose();
    });
  });
});

describe('checkpoints', () => {
  const dir = tempDir('resnets-models-errors-');
  after(() => dir.cleanup());

  it('a checkpoint file of another model names the model, the missing keys and the mismatched shapes', () => {
    const path = join(dir.path, 'resnet20.safetensors');
    withModel('resnet20', {}, (model) => io.save(model.stateDict(), path));
    const checkpoint = io.load(path) as io.StateDict;
    try {
      withModel('resnet32', { init: false }, (model) => {
        assert.throws(() => model.loadStateDict(checkpoint), (error: Error) => {
          assert.match(error.message, /^resnet32 \(CifarResNet, depth 32, widths \[16, 32, 64\], shortcut option A/);
          assert.match(error.message, /cannot load this state dict/);
          assert.match(error.message, /missing keys \(\d+\): layer1\.3\.conv1\.weight/);
          return true;
        });
      });
      withModel('resnet20', { inChans: 1, numClasses: 100, init: false }, (model) => {
        assert.throws(() => model.loadStateDict(checkpoint), (error: Error) => {
          assert.match(error.message, /conv1\.weight: checkpoint has \[16, 3, 3, 3\], model expects \[16, 1, 3, 3\]/);
          assert.match(error.message, /fc\.weight: checkpoint has \[10, 64\], model expects \[100, 64\]/);
          return true;
        });
      });
    } finally {
      torch.dispose(checkpoint);
    }
  });

  it('an ImageNet checkpoint into a different depth lists what the model expects', () => {
    withModel('resnet18', { init: false }, (source) => {
      withModel('resnet34', { init: false }, (target) => {
        assert.throws(() => target.loadStateDict(source.stateDict()), /resnet34 \(ResNet, basic blocks, depths \[3, 4, 6, 3\].*\n.*missing keys \(\d+\): layer1\.2\./s);
      });
      withModel('resnet50', { init: false }, (target) => {
        assert.throws(() => target.loadStateDict(source.stateDict()), /bottleneck blocks[\s\S]*layer1\.0\.conv1\.weight: checkpoint has \[64, 64, 3, 3\], model expects \[64, 64, 1, 1\]/);
      });
    });
  });
});

describe('names and options', () => {
  it('an unknown model name suggests close ones', () => {
    assert.throws(() => models.createModelByName('resnet5'), /unknown model 'resnet5'; did you mean resnet50, resnet56/);
    assert.throws(() => models.getModelInfo('resnxt50_32x4d'), /did you mean resnext50_32x4d\b/);
    assert.throws(() => models.createModelByName('vgg16'), /unknown model 'vgg16' \(listModels\(\) gives all \d+\)/);
  });

  it('an unknown option is refused with the accepted list', () => {
    assert.throws(() => models.createModelByName('resnet18', { numClass: 10 }), /resnet18: unknown option 'numClass'; accepted: numClasses, inChans/);
    assert.throws(() => models.createModelByName('resnet20', { strideOn: '1x1' }), /resnet20: unknown option 'strideOn'.*shortcut/);
  });

  it('bad values name the option and what it accepts', () => {
    assert.throws(() => models.createModelByName('resnet50', { strideOn: '5x5' }), /resnet50: strideOn must be one of '3x3', '1x1', got "5x5"/);
    assert.throws(() => models.createModelByName('resnet18', { groups: 32 }), /basic blocks support only groups 1/);
    assert.throws(() => models.createModelByName('resnet18', { numClasses: -1 }), /numClasses must be an integer >= 0, got -1/);
    assert.throws(() => models.createModelByName('resnet20', { shortcut: 'C' }), /shortcut must be one of 'A', 'B'/);
    assert.throws(() => models.createModelByName('resnet50', { replaceStrideWithDilation: [true] }), /must list 3 booleans/);
    assert.throws(() => models.createModelFromConfig({ block: 'bottleneck', depths: [2, 2], widths: [64] } as models.ResNetConfig), /widths must be a list of 2 integers/);
    assert.throws(() => models.createModelFromConfig({ family: 'cifar_resnet', depth: 21 } as models.CifarResNetConfig), /depth must be 6n \+ 2/);
    assert.throws(() => models.createModelFromConfig({ family: 'vgg' }), /unknown model family 'vgg'; known families: resnet, cifar_resnet/);
  });
});
