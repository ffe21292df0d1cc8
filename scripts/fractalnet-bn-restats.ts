// How much of a FractalNet's all-columns test accuracy its BatchNorm running statistics
// cost: they are gathered under drop-path (single columns, subsets), while eval mode takes
// the mean of every column. Run by hand, outside the test suite:
//
//   node --import tsx scripts/fractalnet-bn-restats.ts WEIGHTS [--images 2048] [--limit-test 1000]
//
// WEIGHTS: a fractalnet_fmnist checkpoint (last.safetensors of a run).
//
// Prints the Fashion-MNIST test accuracy (the first --limit-test images) with the saved
// statistics, then with statistics re-estimated (a cumulative average, BatchNorm's
// momentum None) over the first --images training images, every column on, no dropout.
import { parseArgs } from 'node:util';
import { createClassifierByName } from '../src/models/index.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import { normalizationFor, prepareData, testLoader } from '../src/train/data-setup.js';
import { evaluate } from '../src/train/evaluate.js';
import { readCheckpoint } from '../src/train/pretrained.js';
import { noGrad, setNumThreads } from '../src/torch/runtime.js';
import { dispose, tidy } from '../src/torch/scope.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { images: { type: 'string', default: '2048' }, 'limit-test': { type: 'string', default: '1000' } },
});
if (positionals.length !== 1) throw new Error('usage: fractalnet-bn-restats.ts WEIGHTS [--images N] [--limit-test N]');
setNumThreads(1);
const data = await prepareData({ data: 'fashion-mnist', limitTrain: Number(values.images), limitTest: Number(values['limit-test']) }, { train: true, test: true });
const normalization = normalizationFor(data);
const test = testLoader(data, { batchSize: 250, prefetch: 1, normalization });
const train = testLoader({ ...data, test: data.train }, { batchSize: 128, prefetch: 1, normalization });

// Training mode without drop-path or dropout: every column, batch statistics.
const model = createClassifierByName('fractalnet_fmnist', { numClasses: data.classes.length, inChans: 1, localDropProb: 0, globalPathRatio: 0, dropRates: [0, 0, 0, 0] });
const weights = readCheckpoint(positionals[0]);
model.loadStateDict(weights);
dispose(weights);
const saved = await evaluate(model, test, { numClasses: data.classes.length });
for (const [, module] of model.namedModules()) {
  if (!(module instanceof BatchNorm2d)) continue;
  (module as { momentum: number | null }).momentum = null;
  module.runningMean!.zero_();
  module.runningVar!.fill_(1);
  module.numBatchesTracked!.zero_();
}
model.train();
for await (const batch of train.batches(0)) noGrad(() => tidy(() => void model.call(batch.images)));
const reestimated = await evaluate(model, test, { numClasses: data.classes.length });
console.log(JSON.stringify({ weights: positionals[0], testImages: saved.count, savedStatistics: saved.top1, reestimatedStatistics: reestimated.top1 }));
model.dispose();
