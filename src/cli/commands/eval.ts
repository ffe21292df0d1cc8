// `resnets eval MODEL --weights FILE --data fashion-mnist|mnist|cifar10|cifar100|DIR`: loss, top-1, top-5 and the
// confusion matrix of a checkpoint on a dataset.
import type { Command } from 'commander';
import { createClassifierByName } from '../../models/index.js';
import type { ImageClassifier } from '../../models/classifier.js';
import type { WeightsInfo } from '../../train/checkpoint.js';
import { refuseEmbeddingRun, trainedWeightsInfo } from '../../train/trained-model.js';
import { builtinDataNames, describeSkipped, normalizationFor, prepareData, testLoader } from '../../train/data-setup.js';
import { evaluate } from '../../train/evaluate.js';
import { setNumThreads } from '../../torch/runtime.js';
import { dispose } from '../../torch/scope.js';
import { readCheckpoint } from '../../train/pretrained.js';
import { loadWeights, modelInfo } from '../model-loading.js';
import { registeredModelOptionsHelp, parseChannels, parseChoice, parseModelOptions, parseNonNegativeInt, parseOpenFraction, parsePositiveInt } from '../options.js';

interface EvalCommandOptions {
  modelOptions?: Record<string, unknown>;
  weights: string;
  data: string;
  dataDir?: string;
  cifar100Labels?: 'fine' | 'coarse';
  valSplit?: number;
  seed: number;
  split: 'train' | 'test';
  batchSize: number;
  limit?: number;
  channels?: 1 | 3;
  imageSize?: number;
  strict?: boolean;
  workers: number;
  threads?: number;
  json?: boolean;
}

/** The model as the weights file describes it (a training run's file), else from the data. */
function buildFor(name: string, info: WeightsInfo | undefined, classes: number, channels: number, modelOptions: Record<string, unknown> = {}): ImageClassifier {
  const options = info ? { ...info.modelOptions, ...modelOptions, init: false } : { ...modelOptions, numClasses: classes, inChans: channels, init: false };
  return createClassifierByName(name, options);
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('Evaluate weights on a dataset: loss, top-1 and top-5 accuracy, and the confusion matrix')
    .argument('<model>', "model name (see 'resnets list')")
    .requiredOption('--weights <file>', "weights: a run's best/last.safetensors, or any state dict (.safetensors, .pth)")
    .requiredOption('--data <source>', `${builtinDataNames.map((n) => `'${n}'`).join(', ')} or a folder of class sub-folders (its test/ or val/ split if it has one)`)
    .option('--data-dir <dir>', "mnist, cifar10, cifar100: where their files are; fashion-mnist: if not where Debian's package puts them")
    .option('--cifar100-labels <kind>', 'cifar100: fine (default) or coarse classes', parseChoice(['fine', 'coarse'] as const))
    .option('--val-split <fraction>', "folder data without a test split: evaluate on the share held out by 'train --val-split' (with the run's --seed)", parseOpenFraction)
    .option('--seed <n>', "with --val-split: the training run's seed", parseNonNegativeInt, 0)
    .option('--model-options <json>', registeredModelOptionsHelp, parseModelOptions)
    .option('--split <name>', 'train or test', parseChoice(['train', 'test'] as const), 'test' as const)
    .option('--batch-size <n>', 'images per forward pass', parsePositiveInt, 256)
    .option('--limit <n>', 'evaluate only N images (the first N of Fashion-MNIST; spread over the classes of a folder)', parsePositiveInt)
    .option('--channels <n>', "folder data: 1 or 3 (default: the run's, else 3)", parseChannels)
    .option('--image-size <n>', "folder data: side length (default: the run's, else the model's input size, as predict)", parsePositiveInt)
    .option('--strict', 'folder data: an unreadable image is an error instead of being skipped')
    .option('--workers <n>', 'batches prepared ahead of the model', parseNonNegativeInt, 2)
    .option('--threads <n>', 'libtorch threads', parsePositiveInt)
    .option('--json', 'print the results as JSON')
    .action(async (name: string, options: EvalCommandOptions) => {
      if (options.threads !== undefined) setNumThreads(options.threads);
      modelInfo(name);
      const info = trainedWeightsInfo(options.weights);
      refuseEmbeddingRun(options.weights, info);
      if (info && info.model !== name) throw new Error(`${options.weights} holds ${info.model} weights, not ${name}`);
      const [runChannels, runSize] = info?.inputShape ?? [];
      // A plain checkpoint is evaluated at the model's registered input size, as predict runs it.
      const isFolder = options.data.toLowerCase() !== 'fashion-mnist';
      const plainSize = info === undefined && isFolder ? modelInfo(name).defaultInputSize[1] : undefined;
      const spec = {
        data: options.data,
        dataDir: options.dataDir,
        cifar100Labels: options.cifar100Labels,
        valSplit: options.valSplit,
        validationSeed: options.valSplit === undefined ? undefined : options.seed,
        channels: options.channels ?? (runChannels === 1 || runChannels === 3 ? runChannels : undefined),
        imageSize: options.imageSize ?? runSize ?? plainSize,
        strict: options.strict,
        limitTrain: options.limit,
        limitTest: options.limit,
      };
      const prepared = await prepareData(spec, { train: options.split === 'train', test: options.split === 'test' });
      const data = options.split === 'train' ? { ...prepared, test: prepared.train } : prepared;
      const skipped = describeSkipped(data.skipped);
      if (skipped && !options.json) console.log(`warning: ${skipped}`);
      if (info && info.classes.length > 0 && info.classes.join('\n') !== data.classes.join('\n')) {
        throw new Error(`the weights were trained on classes [${info.classes.join(', ')}], the data has [${data.classes.join(', ')}]`);
      }
      const normalization = info && info.mean.length > 0 ? { mean: info.mean, std: info.std } : normalizationFor(data);
      const loader = testLoader(data, { batchSize: options.batchSize, prefetch: options.workers, normalization });

      const model = buildFor(name, info, data.classes.length, data.inputShape[0], options.modelOptions);
      try {
        const dict = readCheckpoint(options.weights);
        try {
          loadWeights(model, dict, options.weights);
        } finally {
          dispose(dict);
        }
        const result = await evaluate(model, loader, { numClasses: data.classes.length });
        if (options.json) {
          console.log(JSON.stringify({ model: name, weights: options.weights, data: options.data, split: options.split, images: result.count, loss: result.loss, top1: result.top1, top5: result.top5 ?? null, classes: data.classes, confusion: result.confusion.counts, skipped: data.skipped.length }, null, 2));
          return;
        }
        console.log(`${name} on ${data.description}`);
        console.log(`images ${result.count}  loss ${result.loss.toFixed(4)}  top-1 ${(result.top1 * 100).toFixed(2)}%${result.top5 === undefined ? '' : `  top-5 ${(result.top5 * 100).toFixed(2)}%`}  (${result.seconds.toFixed(1)}s)`);
        console.log('\nconfusion matrix (rows: true class, columns: predicted class)');
        console.log(result.confusion.format(data.classes));
      } finally {
        model.dispose();
      }
    });
}
