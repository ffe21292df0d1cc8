// bfloat16 inference against float32 on a trained model's test set: the share of test
// images whose predicted class is the same, and both accuracies. The float32 side is the
// plain eval model, the bfloat16 side the oneDNN plan (prepareForInference, precision bf16).
//
//   npx resnets train resnet20 --data fashion-mnist --epochs 3 --limit-train 6000 --out runs/r20
//   node --import tsx bench/bf16-agreement.ts --weights runs/r20/best.safetensors [--data fashion-mnist] [--threads 2] [--limit 10000]
import { parseArgs } from 'node:util';
import { prepareData, testLoader } from '../src/train/data-setup.js';
import { modelFromRun, trainedWeightsInfo } from '../src/train/trained-model.js';
import { cpuReport, formatCpuReport } from '../src/tools/cpu-info.js';
import { prepareForInference } from '../src/tools/inference-modes.js';
import { noGrad, setNumThreads } from '../src/torch/runtime.js';
import { dispose, tidy } from '../src/torch/scope.js';
import type { Tensor } from '../src/torch/tensor.js';

const { values: args } = parseArgs({
  options: {
    weights: { type: 'string' },
    data: { type: 'string', default: 'fashion-mnist' },
    threads: { type: 'string', default: '2' },
    limit: { type: 'string' },
    'batch-size': { type: 'string', default: '250' },
  },
});
if (!args.weights) throw new Error("--weights: a training run's best.safetensors");
setNumThreads(Number(args.threads));
const info = trainedWeightsInfo(args.weights);
if (!info) throw new Error(`${args.weights} is not a training run's weights file (it has no run metadata)`);
const data = await prepareData({ data: args.data }, { train: false, test: true });
const limit = args.limit ? Number(args.limit) : undefined;
const loader = testLoader(data, { batchSize: Number(args['batch-size']), prefetch: 1, normalization: { mean: info.mean, std: info.std } });
const fp32 = modelFromRun(args.weights, info).model as unknown as Parameters<typeof prepareForInference>[0];
fp32.eval();
const bf16 = prepareForInference(modelFromRun(args.weights, info).model as unknown as Parameters<typeof prepareForInference>[0], { precision: 'bf16' });
let seen = 0;
let same = 0;
let rightFp32 = 0;
let rightBf16 = 0;
for await (const batch of loader.batches(0)) {
  const counts = tidy(() => {
    const count = limit === undefined ? batch.labels.shape[0] : Math.min(batch.labels.shape[0], limit - seen);
    const images: Tensor = batch.images.narrow(0, 0, count);
    const labels: Tensor = batch.labels.narrow(0, 0, count);
    const a = noGrad(() => fp32.call(images)).argmax(1);
    const b = noGrad(() => bf16.call(images)).argmax(1);
    return [count, a.eq(b).sum().item(), a.eq(labels).sum().item(), b.eq(labels).sum().item()];
  });
  dispose([batch.images, batch.labels]);
  seen += counts[0];
  same += counts[1];
  rightFp32 += counts[2];
  rightBf16 += counts[3];
  if (limit !== undefined && seen >= limit) break;
}
console.log(formatCpuReport(cpuReport()));
console.log(`${info.model} from ${args.weights}: ${seen} test images`);
console.log(`bf16 and fp32 predict the same class for ${same} (${((100 * same) / seen).toFixed(2)}%)`);
console.log(`top-1 accuracy: fp32 ${((100 * rightFp32) / seen).toFixed(2)}%, bf16 ${((100 * rightBf16) / seen).toFixed(2)}%`);
fp32.dispose();
bf16.dispose();
