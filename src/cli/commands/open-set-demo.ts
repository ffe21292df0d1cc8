// `resnets open-set-demo`: open-set verification on Fashion-MNIST. The same embedding
// network is trained with ArcFace and with softmax cross-entropy on five classes, then
// both are judged by LFW's protocol on pairs drawn only from the five unseen classes.
import { fashionMnistClasses } from '../../data/fashion-mnist.js';
import { embeddingLossNames, type EmbeddingLossName } from '../../train/losses/embedding-heads.js';
import { createProgressView, formatDuration } from '../../train/progress.js';
import { runOpenSetDemo, SEEN_CLASSES, UNSEEN_CLASSES } from '../../tools/open-set.js';
import { setNumThreads } from '../../torch/runtime.js';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseNonNegativeInt, parsePositiveInt } from '../options.js';
import { addRuntimeOptions, unusedRunFolder } from './train.js';

interface OpenSetCommandOptions {
  out?: string;
  model: string;
  losses: EmbeddingLossName[];
  embeddingSize: number;
  epochs: number;
  batchSize: number;
  perClass: number;
  pairs: number;
  seenTest: number;
  unseenImages?: number;
  seed: number;
  dataDir?: string;
  workers: number;
  threads?: number;
  progress: boolean;
}

function parseLosses(text: string): EmbeddingLossName[] {
  const names = text.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !embeddingLossNames.includes(name as EmbeddingLossName));
  if (names.length === 0 || unknown.length > 0) throw new InvalidArgumentError(`expected losses from ${embeddingLossNames.join(', ')} separated by commas, got '${text}'`);
  return names as EmbeddingLossName[];
}

function parsePairCount(text: string): number {
  const value = parsePositiveInt(text);
  if (value % 20 !== 0) throw new InvalidArgumentError(`expected a multiple of 20 (10 folds of equal same and different halves), got '${text}'`);
  return value;
}

const percent = (value: number | undefined) => (value === undefined ? '-' : `${(value * 100).toFixed(2)}%`);

export function register(program: Command): void {
  const command = program
    .command('open-set-demo')
    .description('Open-set verification on Fashion-MNIST: train an embedding network with ArcFace and with softmax on five classes, verify pairs of the five unseen classes')
    .option('--out <dir>', 'folder for the runs, roc.svg and results.json (default: runs/open-set, or runs/open-set-2, ...)')
    .option('--model <name>', 'the embedding network, a registered model (its final layer outputs the embedding)', 'resnet20')
    .addOption(new Option('--losses <names>', `losses to compare, separated by commas (${embeddingLossNames.join(', ')})`).argParser(parseLosses).default(['arcface', 'softmax'], 'arcface,softmax'))
    .option('--embedding-size <n>', 'length of the embedding', parsePositiveInt, 128)
    .option('--epochs <n>', 'epochs per loss', parsePositiveInt, 5)
    .option('--batch-size <n>', 'images per step', parsePositiveInt, 128)
    .option('--per-class <n>', 'training images per seen class (up to 6000)', parsePositiveInt, 600)
    .option('--pairs <n>', 'verification pairs from the unseen classes (LFW has 6000)', parsePairCount, 6000)
    .option('--seen-test <n>', "test images of the seen classes for each epoch's closed-set accuracy (up to 5000)", parsePositiveInt, 1000)
    .option('--unseen-images <n>', 'draw the pairs from only the first N test images of the unseen classes (default all 5000)', parsePositiveInt)
    .option('--seed <n>', 'seed of the weights, data order and pairs', parseNonNegativeInt, 0)
    .option('--data-dir <dir>', "where Fashion-MNIST's IDX files are, if not where Debian's package puts them");
  addRuntimeOptions(command).action(async (options: OpenSetCommandOptions) => {
    if (options.threads !== undefined) setNumThreads(options.threads);
    const out = options.out ?? unusedRunFolder('runs/open-set');
    const names = (classes: number[]) => classes.map((c) => fashionMnistClasses[c]).join(', ');
    console.log(`seen (trained on): ${names(SEEN_CLASSES)}`);
    console.log(`unseen (verified on): ${names(UNSEEN_CLASSES)}`);
    const view = createProgressView({ interactive: options.progress && Boolean(process.stderr.isTTY) });
    const started = performance.now();
    let results;
    try {
      ({ results } = await runOpenSetDemo({
        out,
        model: options.model,
        losses: options.losses,
        embeddingSize: options.embeddingSize,
        epochs: options.epochs,
        batchSize: options.batchSize,
        perClass: options.perClass,
        pairs: options.pairs,
        seenTestImages: options.seenTest,
        unseenImages: options.unseenImages,
        seed: options.seed,
        dataDir: options.dataDir,
        session: {
          prefetch: options.workers,
          onStep: (p) => view.step(p),
          onEvaluate: () => view.evaluating(),
          onEpoch: (record, isBest) => view.epoch(record, options.epochs, isBest),
          log: (line) => view.message(line),
        },
      }));
    } finally {
      view.stop();
    }
    console.log(`\nverification on ${options.pairs} pairs of unseen classes (10 folds), ${formatDuration((performance.now() - started) / 1000)} in all:`);
    console.log('loss       accuracy           TAR@FAR=1e-3   TAR@FAR=1e-4   seen-class test accuracy');
    for (const { loss, verification: v, closedSetAccuracy } of results) {
      const [far3, far4] = v.tarAtFar;
      console.log(`${loss.padEnd(10)} ${`${percent(v.accuracy)} ± ${percent(v.accuracyStd)}`.padEnd(18)} ${percent(far3.tar).padEnd(14)} ${percent(far4.tar).padEnd(14)} ${percent(closedSetAccuracy)}`);
    }
    console.log(`ROC curves: ${out}/roc.svg   figures: ${out}/results.json   runs: ${options.losses.map((l) => `${out}/${l}`).join(', ')}`);
  });
}
