// Training throughput: resnets against PyTorch eager on the same machine, in the same
// run, with the same thread count, on synthetic batches (so only the training step is
// timed); then the Fashion-MNIST loader with augmentation alone, to show whether data
// loading could hold training back.
//
//   node --import tsx bench/train.ts [--threads 2] [--steps 20] [--repeats 3] [--json]
//                                    [--only resnet20,resnet18,resnet50,densenet121] [--skip-torch] [--skip-loader]
//                                    [--precision fp32|bf16] [--channels-last | --mkldnn] [--peers nchw,channels-last]
//
// --precision bf16 trains ours under autocast and the peers under torch.autocast bf16;
// --channels-last trains ours with channels-last weights and batches, --mkldnn with
// activations in oneDNN's blocked layout (ForwardSettings.mkldnn); --peers lists the
// PyTorch modes timed beside ours (nchw: PyTorch's default, as a user runs it).
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { compose, randomCrop, randomHorizontalFlip } from '../src/data/transforms.js';
import { DataLoader } from '../src/data/loader.js';
import { fashionMnistStats, loadFashionMnist } from '../src/data/fashion-mnist.js';
import { createClassifierByName } from '../src/models/index.js';
import { torch } from '../src/index.js';
import { SGD } from '../src/train/optim/sgd.js';
import { checkMkldnnTraining, MkldnnTrainingUnsupported } from '../src/train/mkldnn-check.js';
import { checkForwardSettings, checkPrecision, forwardAndLoss, crossEntropyLoss, LIBRARY_SETTING_NAMES } from '../src/train/step.js';
import { convWeightsToChannelsLast_ } from '../src/models/index.js';
import { describeCpu } from '../src/torch/cpu-features.js';
import { loadavg } from 'node:os';

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
    precision: { type: 'string', default: 'fp32' },
    'channels-last': { type: 'boolean', default: false },
    mkldnn: { type: 'boolean', default: false },
    peers: { type: 'string', default: 'nchw' },
  },
});
const precision = checkPrecision(args.precision, '--precision');
const channelsLast = args['channels-last'];
const mkldnn = args.mkldnn;
checkForwardSettings({ channelsLast, mkldnn, precision }, { ...LIBRARY_SETTING_NAMES, channelsLast: '--channels-last', mkldnn: '--mkldnn', precision: '--precision' });
const peerModes = args.peers.split(',');
for (const mode of peerModes) if (mode !== 'nchw' && mode !== 'channels-last') throw new Error(`--peers takes nchw and/or channels-last, got '${mode}'`);
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
  { model: 'resnet50', batchSize: 32, imageSize: 128, channels: 3, classes: 10 },
  { model: 'densenet121', batchSize: 16, imageSize: 64, channels: 3, classes: 10 },
].filter((c) => !args.only || args.only.split(',').includes(c.model));

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Our training step (forward, cross entropy, backward, SGD, in a tidy scope), warmed up; `measure` times `steps` of it. */
function ours(c: Case): { measure: () => { wall: number; cpu: number }; parameters: number; dispose: () => void } {
  torch.manualSeed(0);
  const model = createClassifierByName(c.model, { numClasses: c.classes, inChans: c.channels });
  model.train();
  if (channelsLast) convWeightsToChannelsLast_(model);
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const batch = torch.randn([c.batchSize, c.channels, c.imageSize, c.imageSize]);
  const images = channelsLast ? batch.contiguous('channelsLast') : batch;
  const labels = torch.randint(0, c.classes, [c.batchSize]);
  const lossFunction = crossEntropyLoss();
  const step = () =>
    torch.tidy(() => {
      optimizer.zeroGrad();
      const { loss } = forwardAndLoss(model, images, labels, lossFunction, { precision, mkldnn });
      loss.backward();
      optimizer.step();
      return loss.item();
    });
  for (let i = 0; i < warmup; i++) step();
  /** Images per second of wall time, and per second of this process's CPU time. */
  const measure = () => {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    for (let i = 0; i < steps; i++) step();
    const cpu = process.cpuUsage(cpuStarted);
    return { wall: (steps * c.batchSize) / ((performance.now() - started) / 1000), cpu: (steps * c.batchSize) / ((cpu.user + cpu.system) / 1e6) };
  };
  const dispose = () => {
    optimizer.disposeState();
    model.dispose();
    torch.dispose([batch, images, labels]);
  };
  return { measure, parameters: model.countParameters(), dispose };
}

/** One timed run of the PyTorch script (its own warm-up first), in `mode`, autocast when we train in bf16. */
function pytorch(c: Case, mode: string): { imagesPerSecond: number; cpuImagesPerSecond: number; parameters: number; peer: string } {
  const output = execFileSync(
    '/usr/bin/python3',
    ['bench/train_torch.py', '--model', c.model, '--batch-size', String(c.batchSize), '--image-size', String(c.imageSize), '--channels', String(c.channels),
      '--classes', String(c.classes), '--threads', String(threads), '--warmup', String(warmup), '--steps', String(steps), '--repeats', '1',
      ...(mode === 'channels-last' ? ['--channels-last'] : []), ...(precision === 'bf16' ? ['--autocast', 'bf16'] : [])],
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } },
  );
  const parsed = JSON.parse(output) as { images_per_second: number; cpu_images_per_second: number; parameters: number; peer: string };
  return { imagesPerSecond: parsed.images_per_second, cpuImagesPerSecond: parsed.cpu_images_per_second, parameters: parsed.parameters, peer: parsed.peer };
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
// As `resnets train` does: freed activations stay in the process for the next step.
torch.retainFreedMemory();
const loadBefore = loadavg()[0];
interface PeerResult {
  mode: string;
  peer?: string;
  runs: number[];
  cpuRuns: number[];
  imagesPerSecond?: number;
  ratio?: number;
  /** Ours over theirs in images per second of process CPU time. */
  cpuRatio?: number;
}
const results = [];
// Rounds alternate between ours and each peer mode, so that a change in the machine's load hits all alike.
for (const c of cases) {
  if (mkldnn) {
    try {
      checkMkldnnTraining(() => createClassifierByName(c.model, { numClasses: c.classes, inChans: c.channels }), [c.channels, c.imageSize, c.imageSize], '--mkldnn');
    } catch (error) {
      if (!(error instanceof MkldnnTrainingUnsupported)) throw error;
      console.error(`skipped ${c.model}: ${error.reason}`);
      continue;
    }
  }
  const mine = ours(c);
  const oursRuns: number[] = [];
  const oursCpuRuns: number[] = [];
  const peers: PeerResult[] = peerModes.map((mode) => ({ mode, runs: [], cpuRuns: [] }));
  for (let round = 0; round < repeats; round++) {
    const rate = mine.measure();
    oursRuns.push(rate.wall);
    oursCpuRuns.push(rate.cpu);
    if (args['skip-torch']) continue;
    for (const peer of peers) {
      const theirs = pytorch(c, peer.mode);
      if (theirs.parameters !== mine.parameters) {
        throw new Error(`${c.model}: the PyTorch network has ${theirs.parameters} parameters, ours ${mine.parameters}; the comparison would be unfair`);
      }
      peer.runs.push(theirs.imagesPerSecond);
      peer.cpuRuns.push(theirs.cpuImagesPerSecond);
      peer.peer = theirs.peer;
    }
  }
  mine.dispose();
  const resnets = median(oursRuns);
  const resnetsCpu = median(oursCpuRuns);
  for (const peer of peers) {
    peer.imagesPerSecond = peer.runs.length > 0 ? median(peer.runs) : undefined;
    peer.ratio = peer.imagesPerSecond ? resnets / peer.imagesPerSecond : undefined;
    peer.cpuRatio = peer.cpuRuns.length > 0 ? resnetsCpu / median(peer.cpuRuns) : undefined;
  }
  results.push({ ...c, threads, precision, channelsLast, mkldnn, resnets, resnetsCpu, runs: oursRuns, cpuRuns: oursCpuRuns, peers, parameters: mine.parameters });
}
const loaderRate = args['skip-loader'] ? undefined : await loader(128, 2);
const machine = { cpu: describeCpu(), loadAverage: [loadBefore, loadavg()[0]] };

if (args.json) {
  console.log(JSON.stringify({ machine, training: results, loader: loaderRate === undefined ? undefined : { dataset: 'fashion-mnist', batchSize: 128, augment: 'randomCrop(28, padding 4) + horizontal flip', imagesPerSecond: loaderRate } }, null, 2));
} else {
  console.log(`${machine.cpu}; load average ${machine.loadAverage.map((l) => l.toFixed(2)).join(' -> ')}`);
  console.log(`training throughput, ${threads} threads, ${precision}${channelsLast ? ', ours channels-last' : ''}${mkldnn ? ', ours in oneDNN\'s blocked layout' : ''}, synthetic batches (median of ${repeats} alternating rounds of ${steps} steps, after ${warmup} warm-up steps)`);
  console.log('(ratio: ours / theirs in images per second of wall time; cpu ratio: per second of process CPU time)');
  console.log(`model        batch  input      resnets img/s  ${peerModes.map((m) => `PyTorch ${m} img/s  ratio  cpu ratio`).join('  ')}`);
  for (const r of results) {
    const input = `${r.channels}x${r.imageSize}x${r.imageSize}`;
    const peerColumns = r.peers.map((p) => `${(p.imagesPerSecond?.toFixed(1) ?? '-').padStart(8 + p.mode.length + 6)}  ${p.ratio?.toFixed(3) ?? '-'}  ${(p.cpuRatio?.toFixed(3) ?? '-').padStart(9)}`).join('  ');
    console.log(`${r.model.padEnd(12)} ${String(r.batchSize).padStart(5)}  ${input.padEnd(9)} ${r.resnets.toFixed(1).padStart(14)}  ${peerColumns}`);
  }
  if (loaderRate !== undefined) {
    console.log(`Fashion-MNIST loader with augmentation (batch 128, prefetch 2), alone: ${loaderRate.toFixed(0)} img/s`);
    const resnet20 = results.find((r) => r.model === 'resnet20');
    if (resnet20) console.log(`  = ${(loaderRate / resnet20.resnets).toFixed(1)}x what resnet20 training consumes`);
  }
}
