// Trains a CIFAR ResNet-20 on Fashion-MNIST with the library's pieces, from a plain Node
// script: the dataset and loader, SGD with parameter groups, a warm-up and cosine
// schedule, and the training loop. Run from the project root after set-up:
//   node examples/train-fashion-mnist.mjs [epochs] [training images]
import { createModel, data, torch, train } from 'resnets';

// libtorch starts with one thread inside Node; use every core (or RESNETS_NUM_THREADS).
torch.useDefaultThreads();

const epochs = Number(process.argv[2] ?? 1);
const limit = Number(process.argv[3] ?? 60000);

const trainSet = data.subset(data.loadFashionMnist({ split: 'train' }), [...Array(limit).keys()]);
const testSet = data.loadFashionMnist({ split: 'test' });
const normalize = data.normalize(data.fashionMnistStats.mean, data.fashionMnistStats.std);
const augment = data.compose([data.randomCrop(28, { padding: 4 }), data.randomHorizontalFlip()]);
const trainData = new data.DataLoader(trainSet, { batchSize: 128, shuffle: true, seed: 0, transform: augment, normalize });
const testData = new data.DataLoader(testSet, { batchSize: 256, normalize });

const model = createModel('resnet20', { inChans: 1, numClasses: 10 });
const groups = train.paramGroupsFor(model, { weightDecay: 5e-4, noDecayOnNormAndBias: true });
const optimizer = new train.SGD(groups, { lr: 0.1, momentum: 0.9, nesterov: true });
const steps = trainData.numBatches();
const schedule = train.withWarmup(train.cosineSchedule({ lr: 0.1, totalIterations: (epochs - 0.5) * steps }), { iterations: steps / 2 });

await train.train({
  model,
  optimizer,
  schedule,
  trainData,
  testData,
  epochs,
  numClasses: 10,
  seed: 0,
  onEpoch: (r) => console.log(`epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}, test accuracy ${(r.testAccuracy * 100).toFixed(2)}%, ${r.trainImagesPerSecond.toFixed(0)} img/s`),
});
model.dispose();
