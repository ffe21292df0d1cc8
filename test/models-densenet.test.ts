// DenseNet against torchvision (keys, shapes, parameter counts, eval outputs from both
// checkpoint formats, the old `norm.1` keys) and the paper's DenseNet-BC; memory-efficient
// mode gives the plain model's gradients; a few steps lower the loss.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io, torch } from '../src/index.js';
import * as models from '../src/models/index.js';
import { assertSameStructure, relativeError, type Structure } from './helpers/models-reference.js';
import { assertClose, gradientsOf } from './helpers/gradients.js';
import { runPython, tempDir } from './helpers/python.js';

const TOLERANCE = 1e-4;

interface Fixture {
  id: string;
  name: string;
  format: 'pth' | 'safetensors';
  input: number[];
  seed: number;
  old_keys?: boolean;
  in_chans?: number;
}

const FIXTURES: Fixture[] = [
  { id: 'densenet121-old', name: 'densenet121', format: 'pth', input: [2, 3, 64, 64], seed: 1, old_keys: true },
  { id: 'bc100', name: 'densenet_bc_100_12', format: 'safetensors', input: [2, 3, 32, 32], seed: 3 },
  { id: 'bc100-grey', name: 'densenet_bc_100_12', format: 'pth', input: [2, 1, 28, 28], seed: 4, in_chans: 1 },
];

const dir = tempDir('resnets-densenet-');
let structures: Record<string, Structure>;
before(() => {
  structures = JSON.parse(runPython('densenet_reference.py', ['structure'])) as Record<string, Structure>;
  runPython('densenet_reference.py', ['fixtures', dir.path, JSON.stringify(FIXTURES)]);
});
after(() => dir.cleanup());

describe('DenseNet structure', () => {
  it('keys, order, shapes and parameter counts equal the references', () => {
    const expected = { densenet121: 7978856, densenet161: 28681000, densenet169: 14149480, densenet201: 20013928, densenet_bc_100_12: 769162 };
    for (const name of Object.keys(structures)) {
      const model = torch.withDefaultDevice('meta', () => models.createModelByName(name, { init: false }));
      assertSameStructure(model.stateDict(), structures[name], name);
      assert.equal(model.countParameters(), structures[name].params, `${name} parameters`);
      if (name in expected) assert.equal(model.countParameters(), expected[name as keyof typeof expected], `${name}: the documented count`);
    }
  });
});

describe('outputs equal the references', () => {
  for (const fixture of FIXTURES) {
    it(`${fixture.id} (${fixture.format}${fixture.old_keys ? ', old torchvision keys' : ''})`, () => {
      const checkpoint = io.load(join(dir.path, `${fixture.id}.${fixture.format}`)) as io.StateDict;
      if (fixture.old_keys) assert.ok('features.denseblock1.denselayer1.norm.1.weight' in checkpoint, 'the fixture has old keys');
      const model = models.createClassifierByName(fixture.name, { init: false, inChans: fixture.in_chans });
      const data = io.load(join(dir.path, `${fixture.id}-io.safetensors`)) as io.StateDict;
      try {
        // The one loading path: the family's key filter renames the old keys.
        models.loadCheckpoint(model, checkpoint);
        model.eval();
        const error = torch.tidy(() => relativeError(torch.noGrad(() => model.call(data.input)), data.output));
        assert.ok(error < TOLERANCE, `relative error ${error}`);
      } finally {
        torch.dispose([checkpoint, data]);
        model.dispose();
      }
    });
  }
});

const tiny: models.DenseNetConfig = { growthRate: 4, blockConfig: [2, 3], numInitFeatures: 8, stem: 'cifar', numClasses: 5, denseDropRate: 0.2, name: 'tiny' };

function gradients(model: models.ImageClassifier, input: torch.Tensor, target: torch.Tensor, seed: number): Map<string, Float32Array> {
  torch.manualSeed(seed);
  model.zeroGrad();
  torch.tidy(() => torch.crossEntropy(model.call(input), target).backward());
  return gradientsOf(model);
}

describe('memoryEfficient', () => {
  it('gives the plain model gradients (dropout on, same seed) and the same BatchNorm statistics', () => {
    torch.manualSeed(5);
    const plain = new models.DenseNet(tiny);
    const efficient = new models.DenseNet({ ...tiny, memoryEfficient: true }, { init: false });
    efficient.loadStateDict(plain.stateDict());
    const input = torch.randn([3, 3, 12, 12]);
    const target = torch.tensor([0, 3, 4], { dtype: 'int64' });
    try {
      assertClose(gradients(plain, input, target, 9), gradients(efficient, input, target, 9), 1e-6, 'gradient');
      const [p, e] = [plain.stateDict(), efficient.stateDict()];
      for (const key of Object.keys(p).filter((k) => k.includes('running'))) {
        assert.ok(torch.tidy(() => p[key].sub(e[key]).abs().max().item()) < 1e-7, `${key} updated once`);
      }
    } finally {
      torch.dispose([input, target]);
      plain.dispose();
      efficient.dispose();
    }
  });
});

describe('cross-family options', () => {
  it('featuresOnly gives the block outputs at strides 2..32; globalPool max; a 3-channel checkpoint loads into inChans 1', () => {
    torch.manualSeed(6);
    const backbone = models.createModel('densenet121', { featuresOnly: true });
    const shapes = torch.tidy(() => torch.noGrad(() => backbone.eval().call(torch.randn([1, 3, 64, 64])).map((t) => t.shape)));
    assert.deepEqual(shapes, [[1, 64, 32, 32], [1, 256, 16, 16], [1, 512, 8, 8], [1, 1024, 4, 4], [1, 1024, 2, 2]]);
    assert.deepEqual(backbone.featureInfo.map((f) => f.module), ['features.relu0', 'features.denseblock1', 'features.denseblock2', 'features.denseblock3', 'features.relu5']);
    backbone.dispose();

    const rgb = models.createModel('densenet_bc_100_12', { growthRate: 4, globalPool: 'max' }).eval();
    const grey = models.createModel('densenet_bc_100_12', { growthRate: 4, globalPool: 'max', inChans: 1, init: false }).eval();
    models.loadCheckpoint(grey, rgb.stateDict());
    const x = torch.randn([2, 1, 16, 16]);
    // The summed first convolution on a grey image equals the RGB one on that image in every channel.
    const error = torch.tidy(() => torch.noGrad(() => relativeError(grey.call(x), rgb.call(torch.cat([x, x, x], 1)))));
    assert.ok(error < 1e-5, `relative error ${error}`);
    grey.resetClassifier(0);
    assert.deepEqual(torch.tidy(() => torch.noGrad(() => grey.call(x).shape)), [2, grey.numFeatures]);
    torch.dispose([x]);
    rgb.dispose();
    grey.dispose();
  });
});

describe('DenseNet options and training', () => {
  it('numClasses 0 gives pooled features; inChans 1 takes greyscale; bad options are named', () => {
    const model = models.createModel('densenet_bc_100_12', { numClasses: 0, inChans: 1, growthRate: 4 });
    try {
      const out = torch.tidy(() => torch.noGrad(() => model.eval().call(torch.randn([1, 1, 28, 28]))).shape);
      assert.deepEqual(out, [1, model.numFeatures]);
    } finally {
      model.dispose();
    }
    assert.throws(() => models.createModel('densenet121', { compression: 2 }), /compression must be a number in \(0, 1\]/);
    assert.throws(() => models.createModelByName('densenet121', { growth: 2 }), /unknown option 'growth'/);
  });

  it('a few SGD steps lower the loss (memory-efficient mode, dropout on)', () => {
    torch.manualSeed(11);
    const model = new models.DenseNet({ ...tiny, memoryEfficient: true });
    const input = torch.randn([8, 3, 12, 12]);
    const target = torch.randint(0, 5, [8]);
    const losses: number[] = [];
    try {
      for (let step = 0; step < 6; step++) {
        model.zeroGrad();
        losses.push(torch.tidy(() => {
          const loss = torch.crossEntropy(model.call(input), target);
          loss.backward();
          return loss.item();
        }));
        torch.noGrad(() => {
          for (const p of model.parameters()) p.sub_(p.grad!.mul(0.2));
        });
      }
      assert.ok(losses[losses.length - 1] < losses[0] * 0.8, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    } finally {
      torch.dispose([input, target]);
      model.dispose();
    }
  });
});
