// One rank of a small data-parallel training run, for test/distributed-ddp.test.ts:
// a conv + batch-norm + linear model trained for a few SGD steps on seeded random data
// with global batch 8 (each rank takes its interleaved share, as DistributedSampler), then
// the weights, buffers and timings as JSON on stdout. WORLD_SIZE=1 without RANK trains
// the same run in one process with no process group at all.
import { models, nn, torch, train } from '../../src/index.js';

const worldSize = Number(process.env.WORLD_SIZE ?? 1);
const single = process.env.RANK === undefined;
const steps = Number(process.env.STEPS ?? 4);
const syncBn = process.env.SYNC_BN === '1';
const globalBatch = 8;

class Tiny extends nn.Module {
  conv = this.registerModule('conv', new nn.Conv2d(3, 4, 3, { padding: 1 }));
  bn = this.registerModule('bn', new nn.BatchNorm2d(4));
  fc = this.registerModule('fc', new nn.Linear(4, 3));
  forward(x: torch.Tensor): torch.Tensor {
    return torch.tidy(() => this.fc.call(this.bn.call(this.conv.call(x)).relu().mean([2, 3])));
  }
}

torch.setNumThreads(1);
const group = single ? undefined : await train.distributed.init({ timeoutMs: 60_000 });
const rank = group?.rank ?? 0;
// Every rank builds the same model from the seed; DDP broadcasts rank 0's anyway.
torch.manualSeed(rank === 0 ? 7 : 1000 + rank);
const model: nn.Module = process.env.MODEL ? models.createClassifierByName(process.env.MODEL, { numClasses: 3, inChans: 3 }) : new Tiny();
if (syncBn) nn.convertSyncBatchNorm(model);
const ddp = group ? new train.distributed.DistributedDataParallel(model, { bucketCapMb: Number(process.env.BUCKET_MB ?? 25) }) : undefined;
const optimizer = new train.SGD(model.parameters(), { lr: Number(process.env.LR ?? 0.1), momentum: 0.9 });
const mine = Array.from({ length: globalBatch }, (_, i) => i).filter((i) => i % worldSize === rank);
let backwardMs = 0;
for (let step = 0; step < steps; step++) {
  torch.manualSeed(100 + step);
  const images = torch.randn([globalBatch, 3, Number(process.env.SIZE ?? 6), Number(process.env.SIZE ?? 6)]);
  const labels = torch.tensor(Array.from({ length: globalBatch }, (_, i) => (i + step) % 3), { dtype: 'int64' });
  const index = torch.tensor(mine, { dtype: 'int64' });
  torch.tidy(() => {
    const output = (ddp ?? model).call(images.indexSelect(0, index));
    const loss = torch.crossEntropy(output, labels.indexSelect(0, index));
    optimizer.zeroGrad();
    const started = performance.now();
    loss.backward();
    backwardMs += performance.now() - started;
    optimizer.step();
    if (process.env.LOSSES) process.stderr.write(`rank ${rank} step ${step} loss ${loss.item()}\n`);
  });
  torch.dispose([images, labels, index]);
}
const state = model.stateDict();
const values = Object.fromEntries(Object.entries(state).map(([key, t]) => [key, Array.from(t.toTypedArray() as ArrayLike<number | bigint>, Number)]));
torch.dispose(state);
process.stdout.write(`${JSON.stringify({ rank, values, buckets: ddp?.buckets, backwardMs })}\n`);
ddp?.dispose();
if (group) train.distributed.destroy();
