// IResNet against scripts/iresnet_reference.py, arcface_torch's iresnet.py written out
// from its layout: the same state-dict keys, shapes and order for iresnet18 ... 200, the
// same parameter counts (iresnet50 43,590,848 and iresnet100 65,156,160 as arcface_torch
// gives them), and the same eval-mode embedding for a torch.save checkpoint.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import * as models from '../src/models/index.js';
import * as torch from '../src/torch/index.js';
import { assertSameStructure, relativeError, type Structure } from './helpers/models-reference.js';
import { runPython, tempDir } from './helpers/python.js';

const dir = tempDir('resnets-iresnet-');
after(() => dir.cleanup());
let structures: Record<string, Structure & { trainable: number }>;
before(() => {
  structures = JSON.parse(runPython('iresnet_reference.py', ['structure'])) as typeof structures;
  runPython('iresnet_reference.py', ['fixtures', dir.path, JSON.stringify([{ name: 'iresnet18', input: [2, 3, 112, 112], seed: 5 }])]);
});

describe('IResNet (arcface_torch)', () => {
  for (const name of ['iresnet18', 'iresnet34', 'iresnet50', 'iresnet100', 'iresnet200']) {
    it(`${name}: keys, shapes and counts`, () => {
      const model = torch.withDefaultDevice('meta', () => models.createEmbeddingModelByName(name, { init: false }));
      try {
        const reference = structures[name];
        assertSameStructure(model.stateDict(), reference, name);
        assert.equal(model.countParameters(), reference.params);
        assert.equal(model.countParameters({ trainableOnly: true }), reference.trainable, 'features.weight is frozen');
      } finally {
        model.dispose();
      }
    });
  }

  it('the counts arcface_torch gives', () => {
    assert.equal(structures.iresnet50.params, 43590848);
    assert.equal(structures.iresnet100.params, 65156160);
  });

  it('iresnet18: the eval-mode embedding of a torch.save checkpoint, features weight loaded', () => {
    const checkpoint = io.load(join(dir.path, 'iresnet18.pth'));
    const model = models.createEmbeddingModelByName('iresnet18', { init: false });
    const input = io.loadNpy(join(dir.path, 'iresnet18-input.npy'));
    const expected = io.loadNpy(join(dir.path, 'iresnet18-output.npy'));
    try {
      model.loadStateDict(checkpoint);
      model.eval();
      torch.tidy(() => {
        const weight = model.stateDict()['features.weight'];
        assert.ok(!weight.allclose(torch.ones([512])), "the checkpoint's features weight, not 1");
        assert.equal(weight.requiresGrad, false);
        assert.ok(relativeError(torch.noGrad(() => model.call(input)), expected) < 1e-4);
        // embed() takes pixels in 0..255 and normalises them as arcface_torch does.
        const pixels = input.mul(0.5).add(0.5).mul(255);
        assert.ok(relativeError(model.embed(pixels), expected) < 1e-4, 'embed() of the raw pixels');
      });
      assert.deepEqual(model.preprocessing.normalize, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
      torch.tidy(() => assert.throws(() => model.call(torch.zeros([1, 3, 64, 64])), /expects 112x112 input/));
    } finally {
      torch.dispose(checkpoint);
      model.dispose();
      input.dispose();
      expected.dispose();
    }
  });

  it('arcface_torch initialisation: convolutions N(0, 0.1), features weight 1 and frozen', () => {
    torch.manualSeed(0);
    const model = models.createEmbeddingModelByName('iresnet18', { dropout: 0.2 }) as models.IResNet;
    try {
      torch.tidy(() => {
        const weights = model.stateDict();
        const conv = weights['layer2.0.conv1.weight'];
        const std = Math.sqrt(conv.var().item());
        assert.ok(Math.abs(std - 0.1) < 0.005, `conv std ${std}`);
        assert.ok(weights['features.weight'].allclose(torch.ones([512])));
      });
      assert.equal(model.config.dropout, 0.2);
      assert.throws(() => models.createEmbeddingModelByName('iresnet18', { dropout: 1.5 }), /dropout must be a number in \[0, 1\), got 1.5/);
      assert.throws(() => models.createEmbeddingModelByName('iresnet18', { numFeatures: 128 }), /unknown option 'numFeatures'; accepted: layers, embeddingSize/);
    } finally {
      model.dispose();
    }
  });
});
