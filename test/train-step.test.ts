// The training step as its own function (the loss passed in), and the library's
// training defaults that runSession callers and `resnets train` share.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { models, torch, train } from '../src/index.js';

describe('trainingStep', () => {
  it('uses the loss it is given, and a few steps lower it', () => {
    torch.manualSeed(0);
    const model = models.createModelFromConfig({ family: 'cifar_resnet', depth: 10, widths: [4, 8], numClasses: 3 });
    const optimizer = new train.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const images = torch.randn([12, 3, 8, 8]);
    const labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], { dtype: 'int64' });
    let calls = 0;
    const loss: train.LossFunction = (output, target) => {
      calls++;
      return train.crossEntropyLoss()(output, target);
    };
    const losses = Array.from({ length: 8 }, () => train.trainingStep({ model, optimizer, images, labels, loss }).loss);
    assert.equal(calls, 8);
    assert.ok(losses[7] < losses[0], `loss ${losses[0]} -> ${losses[7]}`);
    // A non-finite loss makes no update.
    const before = model.stateDict()['fc.weight'].clone();
    const result = train.trainingStep({ model, optimizer, images, labels, loss: (o) => o.sum().mul(Number.NaN) });
    assert.ok(Number.isNaN(result.loss));
    assert.ok(torch.tidy(() => model.stateDict()['fc.weight'].eq(before).all().item() === 1));
    optimizer.disposeState();
    torch.dispose([images, labels, before]);
    model.dispose();
  });
});

describe('training defaults', () => {
  it('live in the library: resolveRunConfig fills what the CLI leaves out', () => {
    const data = { data: 'fashion-mnist' };
    const sgd = train.resolveRunConfig({ model: 'resnet20', data });
    assert.equal(sgd.epochs, train.trainingDefaults.epochs);
    assert.equal(sgd.lr, 0.1);
    assert.equal(sgd.weightDecay, 5e-4);
    assert.equal(sgd.warmupEpochs, 1);
    assert.deepEqual(sgd.modelOptions, {});
    const adamw = train.resolveRunConfig({ model: 'resnet20', data, optimizer: 'adamw', epochs: 2, lr: undefined });
    assert.equal(adamw.lr, 1e-3);
    assert.equal(adamw.weightDecay, 0.05);
    assert.equal(adamw.warmupEpochs, 0.4, 'a fifth of a short run');
  });

  it("take a family's own SGD settings where it has them (FractalNet: the paper's lr 0.02, plain momentum)", () => {
    const data = { data: 'fashion-mnist' };
    const fractal = train.resolveRunConfig({ model: 'fractalnet_fmnist', data });
    assert.equal(fractal.lr, 0.02);
    assert.equal(fractal.nesterov, false);
    assert.equal(fractal.momentum, 0.9);
    assert.deepEqual(models.getModelInfo('fractalnet_cifar').trainingDefaults, { lr: 0.02, nesterov: false, source: "the paper's SGD: lr 0.02, momentum 0.9, no Nesterov" });
    const given = train.resolveRunConfig({ model: 'fractalnet_fmnist', data, lr: 0.05, nesterov: true });
    assert.equal(given.lr, 0.05, 'a given rate wins');
    assert.equal(given.nesterov, true);
    const adamw = train.resolveRunConfig({ model: 'fractalnet_fmnist', data, optimizer: 'adamw' });
    assert.equal(adamw.lr, 1e-3, "the family's SGD rate does not apply to AdamW");
    const resnet = train.resolveRunConfig({ model: 'resnet20', data });
    assert.equal(resnet.nesterov, true);
    assert.equal(models.getModelInfo('resnet20').trainingDefaults, undefined);
  });
});
