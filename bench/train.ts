// Training throughput: resnets against PyTorch eager on the same machine, in the same
// run, with the same thread count, on synthetic batches (so only the training step is
// timed); then the Fashion-MNIST loader with augmentation alone, to show whether data
// loading could hold training back.
//
//   node --import tsx bench/train.ts [--threads 2] [--steps 20] [--repeats 3] [--json]
//                                    [--only resnet20,resnet18,densenet121] [--skip-torch] [--skip-loader]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { compose, randomCrop, randomHorizontalFlip } from '../src/data/transforms.js';
import { DataLoader } from '../src/data/loader.js';
import { fashionMnistStats, loadFashionMnist } from '../src/data/fashion-mnist.js';
import { createClassifierByName } from '../src/models/index.js';
import { torch } from '../src/index.js';
import { SGD } from '../src/train/optim/sgd.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '3' },
    only: { type: 'string' },
    'skip-torch': { type: 'boolean', default: false },
    'skip-loader': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const threads = Number(args.threads);
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const repeats = Number(args.repeats);

interface Case {
  model: string;
  batchSize: number;
  imageSize: number;
  channels: number;
  classes: number;
}

const cases: Case[] = [
  { model: 'resnet20', batchSize: 128, imageSize: 28, channels: 1, classes: 10 },
  { model: 'resnet18', batchSize: 64, imageSize: 64, channels: 3, classes: 10 },
  { model: 'densenet121', batchSize: 16, imageSize: 64, channels: 3, classes: 10 },
].filter((c) => !args.only || args.only.split(',').includes(c.model));

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Our training step (forward, cross entropy, backward, SGD, in a tidy scope), warmed up; `measure` times `steps` of it. */
function ours(c: Case): { measure: () => number; parameters: number; dispose: () => void } {
  torch.manualSeed(0);
  const model = createClassifierByName(c.model, { numClasses: c.classes, inChans: c.channels });
  model.train();
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const images = torch.randn([c.batchSize, c.channels, c.imageSize, c.imageSize]);
  const labels = torch.randint(0, c.classes, [c.batchSize]);
  const step = () =>
    torch.tidy(() => {
      optimizer.zeroGrad();
      const loss = torch.crossEntropy(model.call(images), labels);
      loss.backward();
      optimizer.step();
      return loss.item();
    });
  for (let i = 0; i < warmup; i++) step();
  const measure = () => {
    const started = performance.now();
    for (let i = 0; i < steps; i++) step();
    return (steps * c.batchSize) / ((performance.now() - started) / 1000);
  };
  const dispose = () => {
    optimizer.disposeState();
    model.dispose();
    torch.dispose([images, labels]);
  };
  return { measure, parameters: model.countParameters(), dispose };
}

/** One timed run of the PyTorch script (its own warm-up first). */
function pytorch(c: Case): { imagesPerSecond: number; parameters: number; peer: string } {
  const output = execFileSync(
    '/usr/bin/python3',
    ['bench/train_torch.py', '--model', c.model, '--batch-size', String(c.batchSize), '--image-size', String(c.imageSize), '--channels', String(c.channels),
      '--classes', String(c.classes), '--threads', String(threads), '--warmup', String(warmup), '--steps', String(steps), '--repeats', '1'],
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } },
  );
  const parsed = JSON.parse(output) as { images_per_second: number; runs: number[]; parameters: number; peer: string };
  return { imagesPerSecond: parsed.images_per_second, parameters: parsed.parameters, peer: parsed.peer };
}

/** Images per second the Fashion-MNIST loader delivers with training augmentation, nothing else running. */
async function loader(batchSize: number, prefetch: number): Promise<number> {
  const dataset = loadFashionMnist({ split: 'train' });
  const data = new DataLoader(dataset, {
    batchSize,
    shuffle: true,
    seed: 0,
    dropLast: true,
    transform: compose([randomCrop(28, { padding: 4 }), randomHorizontalFlip()]),
    normalize: { mean: [...fashionMnistStats.mean], std: [...fashionMnistStats.std] },
    prefetch,
  });
  const batches = Math.min(data.numBatches(), 150);
  let seen = 0;
  const started = performance.now();
  for await (const batch of data.batches(0)) {
    seen += batch.labels.size(0);
    batch.images.dispose();
    batch.labels.dispose();
    if (seen >= batches * batchSize) break;
  }
  return seen / ((performance.now() - started) / 1000);
}

torch.setNumThreads(threads);
const results = [];
// Rounds alternate between the two so that a change in the machine's load hits both alike.
for (const c of cases) {
  const mine = ours(c);
  const runs: { resnets: number[]; pytorch: number[] } = { resnets: [], pytorch: [] };
  let peer: string | undefined;
  for (let round = 0; round < repeats; round++) {
    runs.resnets.push(mine.measure());
    if (args['skip-torch']) continue;
    const theirs = pytorch(c);
    if (theirs.parameters !== mine.parameters) {
      throw new Error(`${c.model}: the PyTorch network has ${theirs.parameters} parameters, ours ${mine.parameters}; the comparison would be unfair`);
    }
    runs.pytorch.push(theirs.imagesPerSecond);
    peer = theirs.peer;
  }
  mine.dispose();
  const resnets = median(runs.resnets);
  const pytorchRate = runs.pytorch.length > 0 ? median(runs.pytorch) : undefined;
  results.push({ ...c, threads, resnets, pytorch: pytorchRate, ratio: pytorchRate ? resnets / pytorchRate : undefined, runs, parameters: mine.parameters, peer });
}
const loaderRate = args['skip-loader'] ? undefined : await loader(128, 2);

if (args.json) {
  console.log(JSON.stringify({ training: results, loader: loaderRate === undefined ? undefined : { dataset: 'fashion-mnist', batchSize: 128, augment: 'randomCrop(28, padding 4) + horizontal flip', imagesPerSecond: loaderRate } }, null, 2));
} else {
  console.log(`training throughput, ${threads} threads, synthetic batches (median of ${repeats} alternating rounds of ${steps} steps, after ${warmup} warm-up steps)`);
  console.log('model        batch  input      resnets img/s  PyTorch img/s  ratio');
  for (const r of results) {
    const input = `${r.channels}x${r.imageSize}x${r.imageSize}`;
    console.log(
      `${r.model.padEnd(12)} ${String(r.batchSize).padStart(5)}  ${input.padEnd(9)} ${r.resnets.toFixed(1).padStart(14)} ${(r.pytorch?.toFixed(1) ?? '-').padStart(14)}  ${r.ratio?.toFixed(3) ?? '-'}`,
    );
  }
  if (loaderRate !== undefined) {
    console.log(`Fashion-MNIST loader with augmentation (batch 128, prefetch 2), alone: ${loaderRate.toFixed(0)} img/s`);
    const resnet20 = results.find((r) => r.model === 'resnet20');
    if (resnet20) console.log(`  = ${(loaderRate / resnet20.resnets).toFixed(1)}x what resnet20 training consumes`);
  }
}
