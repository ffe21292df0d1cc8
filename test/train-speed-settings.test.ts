// Settings that make training faster without changing what it learns beyond float
// rounding: channels-last weights and batches, activations in oneDNN's blocked layout,
// and the thread count a run picks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { models, torch, train } from '../src/index.js';
import { channelsLastByDefault, checkMkldnnTraining, chooseTrainingLayout } from '../src/train/mkldnn-check.js';
import { checkForwardSettings } from '../src/train/step.js';
import { chooseTrainingThreads } from '../src/train/threads.js';
import { trainedLookingModel } from './helpers/trained-looking.js';

torch.setNumThreads(1);

describe('channels-last training', () => {
  it('takes the same steps as dense NCHW training, to float rounding', () => {
    const build = () => {
      torch.manualSeed(3);
      return models.createModelFromConfig({ family: 'cifar_resnet', depth: 10, widths: [8, 16], numClasses: 4 }).train();
    };
    const images = torch.randn([16, 3, 12, 12]);
    const labels = torch.randint(0, 4, [16]);
    const run = (channelsLast: boolean) => {
      const model = build();
      if (channelsLast) models.convWeightsToChannelsLast_(model);
      const optimizer = new train.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
      const losses = Array.from({ length: 4 }, () => train.trainingStep({ model, optimizer, images, labels, loss: train.crossEntropyLoss(), channelsLast }).loss);
      const weight = model.stateDict()['layer1.0.conv1.weight'];
      const result = { losses, channelsLast: weight.isContiguous('channelsLast') && !weight.isContiguous(), weight: Array.from(weight.toTypedArray() as Float32Array) };
      optimizer.disposeState();
      model.dispose();
      return result;
    };
    const dense = run(false);
    const nhwc = run(true);
    assert.equal(nhwc.channelsLast, true, 'the weights stay channels-last through the updates');
    nhwc.losses.forEach((loss, i) => assert.ok(Math.abs(loss - dense.losses[i]) < 1e-4, `step ${i}: ${loss} vs ${dense.losses[i]}`));
    // The two layouts sum in different orders (oneDNN picks its kernel per layout), and four
    // momentum steps carry those roundings on: a few 1e-4 against weights of about 0.1 to 0.5.
    const worst = Math.max(...nhwc.weight.map((w, i) => Math.abs(w - dense.weight[i])));
    assert.ok(worst < 2e-3, `largest weight difference ${worst}`);
    torch.dispose([images, labels]);
  });
});

describe("training with activations in oneDNN's blocked layout (mkldnn)", () => {
  it('takes the same steps as dense training, to float rounding, and updates the batch-norm statistics alike', () => {
    const images = torch.randn([16, 3, 12, 12]);
    const labels = torch.randint(0, 4, [16]);
    const run = (mkldnn: boolean) => {
      torch.manualSeed(3);
      const model = models.createModelFromConfig({ family: 'cifar_resnet', depth: 10, widths: [8, 16], numClasses: 4 }).train();
      const optimizer = new train.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
      const losses = Array.from({ length: 4 }, () => train.trainingStep({ model, optimizer, images, labels, loss: train.crossEntropyLoss(), mkldnn }).loss);
      const state = model.stateDict();
      const values = (name: string) => Array.from(state[name].toTypedArray() as Float32Array);
      const result = { losses, weight: values('layer1.0.conv1.weight'), runningVar: values('layer2.0.bn2.running_var') };
      optimizer.disposeState();
      model.dispose();
      return result;
    };
    const dense = run(false);
    const blocked = run(true);
    blocked.losses.forEach((loss, i) => assert.ok(Math.abs(loss - dense.losses[i]) < 1e-4, `step ${i}: ${loss} vs ${dense.losses[i]}`));
    const worst = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    assert.ok(worst(blocked.weight, dense.weight) < 2e-3, `largest weight difference ${worst(blocked.weight, dense.weight)}`);
    assert.ok(worst(blocked.runningVar, dense.runningVar) < 1e-4 * Math.max(...dense.runningVar), 'running variances');
    torch.dispose([images, labels]);
  });

  it('gives the gradients of the dense path, to float rounding (ResNet-18, pre-activation ResNet-18)', () => {
    for (const name of ['resnet18', 'resnetv2_18']) {
      const model = trainedLookingModel(name).train();
      torch.manualSeed(5);
      const images = torch.randn([4, 3, 32, 32]);
      const labels = torch.randint(0, 7, [4]);
      const gradients = (mkldnn: boolean) => {
        for (const p of model.parameters()) p.grad?.zero_();
        const { loss } = train.forwardAndLoss(model, images, labels, train.crossEntropyLoss(), { mkldnn });
        loss.backward();
        return model.parameters().map((p) => p.grad!.clone());
      };
      const dense = gradients(false);
      const blocked = gradients(true);
      const worst = Math.max(...dense.map((g, i) => g.sub(blocked[i]).norm().item() / g.norm().item()));
      assert.ok(worst < 1e-3, `${name}: largest relative gradient difference ${worst}`);
      torch.dispose([images, labels, ...dense, ...blocked]);
      model.dispose();
    }
  });

  it('checkMkldnnTraining passes models whose every op runs blocked and names the module of the first that does not', () => {
    for (const name of ['resnet18', 'resnetv2_18', 'resnet20', 'resnext50_32x4d']) {
      assert.doesNotThrow(() => checkMkldnnTraining(() => models.createClassifierByName(name, { numClasses: 3 }), [3, 32, 32], 'mkldnn'), name);
    }
    assert.throws(
      () => checkMkldnnTraining(() => models.createClassifierByName('seresnet18', { numClasses: 3 }), [3, 32, 32], '--mkldnn'),
      /^MkldnnTrainingUnsupported: --mkldnn: this model cannot train in oneDNN's blocked layout: layer1\.0\.se \(SqueezeExcite\) .*aten::mean.*\. Train without --mkldnn/,
    );
    assert.throws(() => checkMkldnnTraining(() => models.createClassifierByName('densenet121', { numClasses: 3 }), [3, 32, 32], 'mkldnn'), /denseblock1\.denselayer1 \(DenseLayer\)/);
  });

  it('chooseTrainingLayout takes it where it applies, refuses it where it was required and cannot apply, and says why', () => {
    const build = () => models.createClassifierByName('resnet20', { numClasses: 3 });
    const se = () => models.createClassifierByName('seresnet18', { numClasses: 3 });
    const base = { mkldnn: 'auto' as const, channelsLast: false, precision: 'fp32', gradCheckpointing: false, syncBatchNorm: false };
    assert.deepEqual(chooseTrainingLayout(base, build, [3, 16, 16]), { mkldnn: true, channelsLast: false, note: "layout: oneDNN's blocked layout for the activations (--no-mkldnn trains dense NCHW)" });
    assert.deepEqual(chooseTrainingLayout({ ...base, mkldnn: false }, build, [3, 16, 16]), { mkldnn: false, channelsLast: false, note: 'layout: dense NCHW (--no-mkldnn)' });
    // bf16 trains channels-last unless a layout was asked for: autocast takes no blocked tensors.
    assert.deepEqual(chooseTrainingLayout({ ...base, precision: 'bf16' }, build, [3, 16, 16]), {
      mkldnn: false,
      channelsLast: true,
      note: 'layout: channels-last, the default with --precision bf16 (--no-mkldnn trains dense NCHW)',
    });
    assert.equal(channelsLastByDefault({ ...base, precision: 'bf16' }), true);
    assert.deepEqual(chooseTrainingLayout({ ...base, precision: 'bf16', mkldnn: false }, build, [3, 16, 16]).channelsLast, false);
    assert.deepEqual(chooseTrainingLayout({ ...base, precision: 'bf16', channelsLast: true }, build, [3, 16, 16]).note, 'layout: channels-last');
    assert.equal(channelsLastByDefault(base), false);
    assert.match(chooseTrainingLayout(base, se, [3, 16, 16]).note, /^layout: dense NCHW \(oneDNN's blocked layout has no kernel for layer1\.0\.se \(SqueezeExcite\)/);
    assert.throws(() => chooseTrainingLayout({ ...base, mkldnn: true }, se, [3, 16, 16]), /--mkldnn: this model cannot train in oneDNN's blocked layout/);
    // An error dense training would meet as well (here a wrong channel count) is not taken for a missing kernel.
    assert.throws(() => chooseTrainingLayout(base, build, [1, 16, 16]), (error: Error) => !/blocked layout/.test(error.message));
    for (const [change, note, error] of [
      [{ channelsLast: true }, /^layout: channels-last$/, /two layouts for the same activations/],
      [{ gradCheckpointing: true }, /dense NCHW \(--checkpoint-activations\)/, /does not combine with --checkpoint-activations/],
      [{ syncBatchNorm: true }, /dense NCHW \(--sync-bn/, /does not combine with --sync-bn/],
    ] as const) {
      const chosen = chooseTrainingLayout({ ...base, ...change }, build, [3, 16, 16]);
      assert.equal(chosen.mkldnn, false);
      assert.equal(chosen.channelsLast, 'channelsLast' in change);
      assert.match(chosen.note, note);
      assert.throws(() => chooseTrainingLayout({ ...base, ...change, mkldnn: true }, build, [3, 16, 16]), error);
    }
    assert.throws(() => chooseTrainingLayout({ ...base, precision: 'bf16', mkldnn: true }, build, [3, 16, 16]), /--mkldnn trains in float32 only/);
  });

  it('refuses channels-last with it, and bf16', () => {
    assert.throws(() => checkForwardSettings({ mkldnn: true, channelsLast: true }), /channelsLast and mkldnn are two layouts for the same activations: choose one/);
    assert.throws(() => checkForwardSettings({ mkldnn: true, precision: 'bf16' }), /mkldnn trains in float32 only/);
    assert.doesNotThrow(() => checkForwardSettings({ channelsLast: true, precision: 'bf16' }));
  });
});

describe('chooseTrainingThreads', () => {
  const idle = { cores: 2, loadAverage: 0.1 };
  it('takes one thread for tiny batches, however idle the machine', () => {
    assert.equal(chooseTrainingThreads({ batchSize: 8, height: 8, width: 8 }, idle).threads, 1);
    assert.match(chooseTrainingThreads({ batchSize: 8, height: 8, width: 8 }, idle).reason, /8x8x8 are too small/);
  });
  it('takes the cores other work leaves free for larger batches', () => {
    const batch = { batchSize: 128, height: 28, width: 28 };
    assert.equal(chooseTrainingThreads(batch, idle).threads, 2);
    assert.equal(chooseTrainingThreads(batch, { cores: 2, loadAverage: 1.5 }).threads, 1);
    assert.equal(chooseTrainingThreads(batch, { cores: 2, loadAverage: 7 }).threads, 1);
    assert.equal(chooseTrainingThreads(batch, { cores: 16, loadAverage: 4.2 }).threads, 12);
    assert.match(chooseTrainingThreads(batch, { cores: 2, loadAverage: 7 }).reason, /load average 7\.00 on 2 cores: one core is free/);
  });
});
