// The CIFAR ResNets (He et al. 2015, section 4.2) match the PyTorch definition in
// scripts/cifar_resnet_reference.py: keys, shapes, parameter counts and outputs, for
// option A (parameter-free) and option B (projection) shortcuts, with 1 or 3 input channels.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { io, torch } from '../src/index.js';
import * as models from '../src/models/index.js';
import { native } from '../src/native.js';
import { assertSameStructure, cifarStructures, relativeError, writeCifarFixtures, type CifarSpec } from './helpers/models-reference.js';
import { tempDir } from './helpers/python.js';

const DEPTHS = [20, 32, 44, 56, 110];

function build(depth: number, options: models.ModelOptions = {}): models.ImageClassifier {
  return models.createModel(`resnet${depth}`, options);
}

describe('structure equals the PyTorch CIFAR ResNet', () => {
  const specs: CifarSpec[] = DEPTHS.flatMap((depth) => [
    { depth, shortcut: 'A' as const },
    { depth, shortcut: 'B' as const, in_chans: 1, num_classes: 100 },
  ]);
  const reference = cifarStructures(specs);

  specs.forEach((spec, i) => {
    it(`resnet${spec.depth} option ${spec.shortcut}, inChans ${spec.in_chans ?? 3}: keys, shapes, parameter count`, () => {
      const model = build(spec.depth, { shortcut: spec.shortcut, inChans: spec.in_chans, numClasses: spec.num_classes, init: false });
      try {
        assertSameStructure(model.stateDict(), reference[i], `resnet${spec.depth}${spec.shortcut}`);
        assert.equal(model.countParameters(), reference[i].params);
      } finally {
        model.dispose();
      }
    });
  });

  it('ResNet-110 with option A has 1,727,962 parameters (10 classes)', () => {
    const model = build(110);
    try {
      assert.ok(model instanceof models.CifarResNet);
      assert.equal(model.config.shortcut, 'A');
      assert.equal(model.numClasses, 10);
      assert.equal(model.countParameters(), 1_727_962);
    } finally {
      model.dispose();
    }
  });

  it('option A shortcuts have no parameters; option B projects where the shape changes, only there', () => {
    const a = build(20);
    const b = build(20, { shortcut: 'B' });
    try {
      assert.ok(!Object.keys(a.stateDict()).some((key) => key.includes('downsample')));
      const projections = Object.keys(b.stateDict()).filter((key) => key.endsWith('downsample.0.weight'));
      assert.deepEqual(projections, ['layer2.0.downsample.0.weight', 'layer3.0.downsample.0.weight']);
      assert.deepEqual(b.stateDict()['layer3.0.downsample.0.weight'].shape, [64, 32, 1, 1]);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('forward', () => {
  for (const inChans of [1, 3]) {
    it(`inChans ${inChans}: [N, ${inChans}, 28, 28] and [N, ${inChans}, 32, 32] give [N, 10] logits and [N, 64, h, w] features`, () => {
      const model = build(20, { inChans });
      try {
        torch.tidy(() => {
          assert.deepEqual(model.call(torch.randn([3, inChans, 28, 28])).shape, [3, 10]);
          assert.deepEqual(model.eval().forwardFeatures(torch.randn([2, inChans, 32, 32])).shape, [2, 64, 8, 8]);
        });
      } finally {
        model.dispose();
      }
    });
  }

  it("the option A shortcut subsamples, appends zero channels, and keeps oneDNN's layout", () => {
    const shortcut = new models.ZeroPadShortcut(2, 4, 2);
    torch.tidy(() => {
      const x = torch.arange(32, undefined, 1, { dtype: 'float32' }).reshape([1, 2, 4, 4]);
      const y = shortcut.call(x);
      assert.deepEqual(y.toArray(), [[[[0, 2], [8, 10]], [[16, 18], [24, 26]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]]]);
      const packed = shortcut.call(new torch.Tensor(native.toMkldnn(x.handle)));
      assert.ok(native.isMkldnn(packed.handle));
      assert.ok(new torch.Tensor(native.toDense(packed.handle)).allclose(y, 0, 0));
    });
  });

  it('a custom width and stage list builds from a plain config', () => {
    const model = models.createModelFromConfig({ family: 'cifar_resnet', depth: 10, widths: [8, 16], shortcut: 'B', inChans: 1, numClasses: 5 } as models.CifarResNetConfig);
    try {
      assert.equal(model.name, 'cifar_resnet10');
      assert.deepEqual(torch.tidy(() => model.call(torch.randn([2, 1, 16, 16])).shape), [2, 5]);
      assert.deepEqual(model.stateDict()['layer2.1.conv2.weight'].shape, [16, 16, 3, 3]);
    } finally {
      model.dispose();
    }
  });
});

describe('outputs equal PyTorch', () => {
  const dir = tempDir('resnets-cifar-');
  after(() => dir.cleanup());
  const fixtures = [
    { id: 'a', depth: 20, shortcut: 'A' as const, in_chans: 1, input: [4, 1, 28, 28], seed: 5 },
    { id: 'b', depth: 32, shortcut: 'B' as const, in_chans: 3, input: [4, 3, 32, 32], seed: 6 },
  ];
  writeCifarFixtures(dir.path, fixtures);

  for (const fixture of fixtures) {
    it(`resnet${fixture.depth} option ${fixture.shortcut}, inChans ${fixture.in_chans}: eval and fused`, () => {
      const model = build(fixture.depth, { shortcut: fixture.shortcut, inChans: fixture.in_chans, init: false });
      const data = io.load(join(dir.path, `${fixture.id}-io.safetensors`)) as io.StateDict;
      const checkpoint = io.load(join(dir.path, `${fixture.id}.safetensors`)) as io.StateDict;
      try {
        model.loadStateDict(checkpoint);
        model.eval();
        const error = (m: models.ImageClassifier) => torch.tidy(() => relativeError(torch.noGrad(() => m.call(data.input)), data.output));
        assert.ok(error(model) < 1e-4, 'eval output');
        models.fuseForInference(model, { inPlace: true, channelsLast: true });
        assert.ok(error(model) < 1e-4, 'fused channels-last output');
      } finally {
        model.dispose();
        torch.dispose([data, checkpoint]);
      }
    });
  }
});
