// Settings that make training faster without changing what it learns beyond float
// rounding: channels-last weights and batches, and the thread count a run picks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { models, torch, train } from '../src/index.js';
import { chooseTrainingThreads } from '../src/train/threads.js';

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
