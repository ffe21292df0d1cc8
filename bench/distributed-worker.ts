// One process of bench/distributed.ts: trains `steps` steps of a model (after warm-up)
// as one rank of WORLD_SIZE (or alone when RANK is unset) and prints, on rank 0, JSON
// with the global images/s and per-step times: forward, backward with DistributedDataParallel
// (all-reduce overlapped), backward without it (noSync: compute only), and a standalone
// all-reduce of every gradient (the communication alone).
//   CASE=resnet20-fmnist|resnet18-64 STEPS=20 WARMUP=3 BATCH=64 BUCKET_MB=25 node --import tsx bench/distributed-worker.ts
import { createClassifierByName } from '../src/models/index.js';
import { torch, train } from '../src/index.js';
import { prepareData, trainLoader, normalizationFor } from '../src/train/data-setup.js';
import type { Batch } from '../src/train/evaluate.js';

const dist = train.distributed;
const caseName = process.env.CASE ?? 'resnet20-fmnist';
const steps = Number(process.env.STEPS ?? 20);
const warmup = Number(process.env.WARMUP ?? 3);
const globalBatch = Number(process.env.BATCH ?? 64);
const distributed = process.env.RANK !== undefined;
torch.setNumThreads(Number(process.env.RESNETS_NUM_THREADS ?? 1));
const group = distributed ? await dist.init({ timeoutMs: 120_000 }) : undefined;
const rank = group?.rank ?? 0;
const world = group?.worldSize ?? 1;
const batch = globalBatch / world;

// Batches: Fashion-MNIST through the training loader (crops, flips, this rank's shard), or synthetic 64x64 RGB.
let nextBatch: () => Promise<Batch>;
let model;
if (caseName === 'resnet20-fmnist') {
  const data = await prepareData({ data: 'fashion-mnist', limitTrain: globalBatch * (steps + warmup + 5) }, { train: true, test: false });
  const loader = trainLoader(data, { batchSize: batch, seed: 0, augment: true, prefetch: 2, normalization: normalizationFor(data), shard: group ? { numReplicas: world, rank } : undefined });
  const iterator = loader.batches(0)[Symbol.asyncIterator]();
  nextBatch = async () => (await iterator.next()).value as Batch;
  torch.manualSeed(0);
  model = createClassifierByName('resnet20', { numClasses: 10, inChans: 1 });
} else {
  nextBatch = async () => ({ images: torch.randn([batch, 3, 64, 64]), labels: torch.randint(0, 10, [batch]) });
  torch.manualSeed(0);
  model = createClassifierByName('resnet18', { numClasses: 10, inChans: 3 });
}
const ddp = group ? new dist.DistributedDataParallel(model, { bucketCapMb: Number(process.env.BUCKET_MB ?? 25) }) : undefined;
const optimizer = new train.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
const times = { forward: 0, backward: 0, backwardNoSync: 0, allReduce: 0 };

async function step(measure: boolean, sync: boolean): Promise<void> {
  const { images, labels } = await nextBatch();
  torch.tidy(() => {
    const run = () => {
      let started = performance.now();
      const loss = torch.crossEntropy((ddp ?? model).call(images), labels);
      const forward = performance.now() - started;
      optimizer.zeroGrad();
      started = performance.now();
      loss.backward();
      return { forward, backward: performance.now() - started };
    };
    const timed = ddp && !sync ? ddp.noSync(run) : run();
    if (measure && sync) {
      times.forward += timed.forward;
      times.backward += timed.backward;
    }
    if (measure && !sync) times.backwardNoSync += timed.backward;
    if (measure && sync && group) {
      // The same bytes the Reducer moved, all-reduced alone after the backward pass.
      const grads = model.parameters().map((p) => p.grad!).filter(Boolean);
      const started = performance.now();
      dist.allReduceSync(grads, 'avg');
      times.allReduce += performance.now() - started;
    }
    if (sync) optimizer.step();
  });
  torch.dispose([images, labels]);
}

for (let i = 0; i < warmup; i++) await step(false, true);
if (group) await dist.barrier();
const started = performance.now();
for (let i = 0; i < steps; i++) await step(true, true);
if (group) await dist.barrier();
const seconds = (performance.now() - started) / 1000;
// The all-reduce timed inside the loop is not training: leave it out of the throughput.
const trainSeconds = seconds - times.allReduce / 1000;
// Compute-only backward (noSync: no all-reduce) on 5 more steps.
const extra = 5;
if (ddp) for (let i = 0; i < extra; i++) await step(true, false);
if (rank === 0) {
  process.stdout.write(
    `${JSON.stringify({
      case: caseName,
      world,
      threads: torch.getNumThreads(),
      globalBatch,
      imagesPerSecond: (steps * globalBatch) / trainSeconds,
      forwardMs: times.forward / steps,
      backwardMs: times.backward / steps,
      backwardNoSyncMs: ddp ? times.backwardNoSync / extra : undefined,
      allReduceMs: group ? times.allReduce / steps : undefined,
      buckets: ddp?.buckets,
      gradientMiB: model.parameters().reduce((n, p) => n + p.numel * 4, 0) / 2 ** 20,
    })}\n`,
  );
}
ddp?.dispose();
if (group) dist.destroy();
