// `resnets train MODEL --data fashion-mnist|DIR --out RUN_DIR`: trains a model, with a
// progress bar, per-epoch metrics, checkpoints, curves, and Ctrl-C that saves a
// resumable checkpoint (`resnets train --resume RUN_DIR` continues it).
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { createProgressView, formatDuration } from '../../train/progress.js';
import { scheduleNames, type ScheduleName } from '../../train/schedule.js';
import {
  optimizerNames,
  readSessionConfig,
  resolveRunConfig,
  resumeConfig,
  runSession,
  trainingDefaults,
  type OptimizerName,
  type RunConfig,
  type SessionResult,
} from '../../train/session.js';
import { setNumThreads } from '../../torch/runtime.js';
import { embeddingLossNames, type EmbeddingLossName } from '../../train/losses/embedding-heads.js';
import { marginDefaults, type MarginSpec } from '../../train/losses/margin.js';
import { parseChannels, parseChoice, parseProbability, parseNonNegativeInt, parseNonNegativeNumber, parsePositiveInt, parsePositiveNumber, modelOptionsHelp, parseModelOptions } from '../options.js';

function parseEpochList(text: string): number[] {
  const values = text.split(',').map((part) => Number(part));
  if (values.some((v) => !Number.isFinite(v) || v <= 0)) throw new InvalidArgumentError(`expected epochs separated by commas such as 15,25, got '${text}'`);
  return values;
}

export interface TrainCommandOptions {
  modelOptions?: Record<string, unknown>;
  data?: string;
  testData?: string;
  dataDir?: string;
  out?: string;
  resume?: string;
  epochs: number;
  batchSize: number;
  lr?: number;
  optimizer: OptimizerName;
  momentum: number;
  nesterov: boolean;
  dropPathRate?: number;
  dropRate?: number;
  weightDecay?: number;
  decayNormBias?: boolean;
  schedule: ScheduleName;
  milestones?: number[];
  stepEpochs?: number;
  gamma?: number;
  warmupEpochs?: number;
  minLr: number;
  labelSmoothing: number;
  clipGradNorm?: number;
  augment: boolean;
  seed: number;
  channels?: 1 | 3;
  imageSize?: number;
  strict?: boolean;
  limitTrain?: number;
  limitTest?: number;
  workers: number;
  threads?: number;
  progress: boolean;
  loss?: EmbeddingLossName;
  embeddingSize?: number;
  scale?: number;
  margin?: number;
  margins?: number[];
}

function parseMargins(text: string): number[] {
  const values = text.split(',').map((part) => Number(part));
  if (values.length !== 3 || text.split(',').some((part) => part.trim() === '') || values.some((v) => !Number.isFinite(v) || v < 0)) {
    throw new InvalidArgumentError(`expected three non-negative numbers m1,m2,m3 such as 1,0.3,0.2, got '${text}'`);
  }
  return values;
}

/** The margin settings the options change from the loss's defaults; an option that does not apply to the loss is an error. */
function marginFromOptions(options: TrainCommandOptions): Partial<MarginSpec> | undefined {
  const { loss } = options;
  const given = (['scale', 'margin', 'margins'] as const).filter((key) => options[key] !== undefined);
  if (!loss || loss === 'softmax') {
    if (given.length > 0) throw new Error(`--${given[0]} applies to the margin losses; add --loss ${embeddingLossNames.filter((n) => n !== 'softmax').join('|')}`);
    return undefined;
  }
  const spec: Partial<MarginSpec> = {};
  if (options.scale !== undefined) spec.s = options.scale;
  if (options.margin !== undefined) {
    if (loss === 'combined') throw new Error('--margin sets the single margin of arcface or cosface; the combined loss takes --margins m1,m2,m3');
    if (loss === 'arcface') spec.m2 = options.margin;
    else spec.m3 = options.margin;
  }
  if (options.margins !== undefined) {
    if (loss !== 'combined') throw new Error(`--margins m1,m2,m3 applies to --loss combined; ${loss} takes --margin m`);
    [spec.m1, spec.m2, spec.m3] = options.margins;
  }
  return Object.keys(spec).length > 0 ? spec : undefined;
}

/** `stem` if no such folder exists yet, else the first free of stem-2, stem-3, ... */
export function unusedRunFolder(stem: string): string {
  if (!existsSync(stem)) return stem;
  for (let i = 2; ; i++) if (!existsSync(`${stem}-${i}`)) return `${stem}-${i}`;
}

function defaultOut(model: string, data: string): string {
  return unusedRunFolder(join('runs', `${model}-${basename(resolve(data)).toLowerCase()}`));
}

function configFromOptions(model: string, options: TrainCommandOptions): RunConfig {
  if (!options.data) throw new Error("--data is required ('fashion-mnist' or a folder of class sub-folders)");
  const modelOptions = Object.fromEntries(Object.entries({ dropPathRate: options.dropPathRate, dropRate: options.dropRate }).filter(([, v]) => v !== undefined));
  return resolveRunConfig({
    model,
    modelOptions: { ...options.modelOptions, ...modelOptions },
    data: {
      data: options.data,
      testData: options.testData,
      dataDir: options.dataDir,
      channels: options.channels,
      // Embedding training on folders follows InsightFace: aligned 112x112 crops, flips only.
      imageSize: options.imageSize ?? (options.loss && options.data.toLowerCase() !== 'fashion-mnist' ? 112 : undefined),
      aligned: options.loss && options.data.toLowerCase() !== 'fashion-mnist' ? true : undefined,
      strict: options.strict,
      limitTrain: options.limitTrain,
      limitTest: options.limitTest,
    },
    epochs: options.epochs,
    batchSize: options.batchSize,
    optimizer: options.optimizer,
    lr: options.lr,
    momentum: options.momentum,
    nesterov: options.nesterov,
    weightDecay: options.weightDecay,
    noDecayNormBias: !options.decayNormBias,
    schedule: options.schedule,
    milestones: options.milestones,
    stepEpochs: options.stepEpochs,
    gamma: options.gamma,
    warmupEpochs: options.warmupEpochs,
    minLr: options.minLr,
    labelSmoothing: options.labelSmoothing,
    clipGradNorm: options.clipGradNorm,
    augment: options.augment,
    seed: options.seed,
    ...(options.loss ? { loss: options.loss, embeddingSize: options.embeddingSize ?? 512, margin: marginFromOptions(options) } : noEmbeddingOptions(options)),
  });
}

/** A classifier run: --embedding-size and the margin options need --loss. */
function noEmbeddingOptions(options: TrainCommandOptions): Record<string, never> {
  if (options.embeddingSize !== undefined) throw new Error(`--embedding-size applies to embedding training; add --loss ${embeddingLossNames.join('|')}`);
  marginFromOptions(options);
  return {};
}

/** Adds the options every training command shares (train and demo). */
export function addRuntimeOptions(command: Command): Command {
  return command
    .option('--workers <n>', 'batches prepared ahead while the model trains (image decoding runs on the libuv thread pool; set UV_THREADPOOL_SIZE for more decoders)', parseNonNegativeInt, 2)
    .option('--threads <n>', 'libtorch threads for the model (default: RESNETS_NUM_THREADS or all cores)', parsePositiveInt)
    .option('--no-progress', 'no progress bar, only the per-epoch lines');
}

/**
 * Runs a session with Ctrl-C handling and terminal output. A NaN loss or any other
 * failure is thrown (the CLI prints it and exits 1); a stop by Ctrl-C returns normally.
 */
export async function trainWithConsole(config: RunConfig, options: { out: string; resume: boolean; workers: number; progress: boolean }): Promise<SessionResult> {
  const view = createProgressView({ interactive: options.progress && Boolean(process.stderr.isTTY) });
  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) {
      view.stop();
      process.stderr.write('\nsecond Ctrl-C: quitting without saving\n');
      process.exit(130);
    }
    stopRequested = true;
    view.message('\nCtrl-C: finishing this step and saving a resumable checkpoint (press Ctrl-C again to quit without saving)');
  };
  process.on('SIGINT', onSigint);
  const started = performance.now();
  try {
    const session = await runSession(config, {
      out: options.out,
      resume: options.resume,
      prefetch: options.workers,
      shouldStop: () => stopRequested,
      onStep: (p) => view.step(p),
      onEvaluate: () => view.evaluating(),
      onEpoch: (record, isBest) => view.epoch(record, config.epochs, isBest),
      log: (line) => view.message(line),
    });
    const { result, run } = session;
    view.stop();
    const elapsed = formatDuration((performance.now() - started) / 1000);
    const { state } = result;
    if (result.status === 'stopped') {
      const where = state.batch === 0 ? `after epoch ${state.epoch}` : `in epoch ${state.epoch + 1} at batch ${state.batch}`;
      console.log(`stopped ${where} (step ${state.iteration}); resumable checkpoint saved to ${run.file('state')}`);
      console.log(`resume with: resnets train --resume ${run.path}`);
      return session;
    }
    const scored = result.records.some((r) => r.testAccuracy !== undefined) ? 'test' : 'training';
    const best = state.bestAccuracy >= 0 ? `; best ${scored} accuracy ${(state.bestAccuracy * 100).toFixed(2)}% at epoch ${state.bestEpoch}` : '';
    console.log(`finished ${config.epochs} epochs in ${elapsed}${best}`);
    console.log(`run saved to ${run.path} (metrics.jsonl, curves.svg, last.safetensors, best.safetensors${session.head ? ', head.safetensors: the class centres' : ''})`);
    return session;
  } catch (error) {
    view.stop();
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function register(program: Command): void {
  const command = program
    .command('train')
    .description('Train a model on Fashion-MNIST or an image folder; writes metrics, checkpoints and curves to a run folder')
    .argument('[model]', "model name (see 'resnets list'); optional with --resume")
    .option('--model-options <json>', modelOptionsHelp, parseModelOptions)
    .option('--data <source>', "'fashion-mnist', or a folder of class sub-folders (with train/ and test/ or val/ inside, or one set)")
    .option('--test-data <dir>', 'a separate folder of test images for folder data')
    .option('--data-dir <dir>', "where Fashion-MNIST's IDX files are, if not where Debian's package puts them")
    .option('--out <dir>', 'run folder (default: runs/<model>-<data>)')
    .option('--resume <dir>', 'continue the run in this folder from its last checkpoint, with its saved settings')
    .option('--epochs <n>', 'epochs to train', parsePositiveInt, trainingDefaults.epochs)
    .option('--batch-size <n>', 'images per step', parsePositiveInt, trainingDefaults.batchSize)
    .option('--lr <rate>', 'peak learning rate (default: 0.1 for SGD, 0.001 for AdamW)', parsePositiveNumber)
    .option('--optimizer <name>', `one of ${optimizerNames.join(', ')}`, parseChoice(optimizerNames), trainingDefaults.optimizer)
    .option('--momentum <m>', 'SGD momentum', parseNonNegativeNumber, trainingDefaults.momentum)
    .option('--no-nesterov', 'plain momentum instead of Nesterov momentum')
    .option('--drop-path-rate <p>', "stochastic depth: the last block's drop probability, earlier blocks' rising linearly from 0 (default 0)", parseProbability)
    .option('--drop-rate <p>', 'dropout before the classifier (default 0)', parseProbability)
    .option('--weight-decay <wd>', 'L2 weight decay (SGD; default 5e-4) or decoupled weight decay (AdamW; default 0.05)', parseNonNegativeNumber)
    .option('--decay-norm-bias', 'also decay BatchNorm weights and biases (by default they are not decayed)')
    .option('--schedule <name>', `learning-rate schedule: ${scheduleNames.join(', ')}`, parseChoice(scheduleNames), trainingDefaults.schedule)
    .option('--milestones <epochs>', 'multistep: epochs at which the rate is multiplied by --gamma (default: 50% and 75% of the run)', parseEpochList)
    .option('--step-epochs <n>', 'step: epochs between decays (default: a third of the run)', parsePositiveNumber)
    .option('--gamma <g>', 'step and multistep: the decay factor (default 0.1)', parsePositiveNumber)
    .option('--warmup-epochs <n>', 'linear warm-up from a tenth of --lr over this many epochs (default: 1; a fifth of the run for runs under 5 epochs)', parseNonNegativeNumber)
    .option('--min-lr <rate>', 'cosine: the final learning rate', parseNonNegativeNumber, trainingDefaults.minLr)
    .option('--label-smoothing <e>', 'label smoothing of the training loss', parseNonNegativeNumber, trainingDefaults.labelSmoothing)
    .option('--clip-grad-norm <max>', "clip the gradients' joint 2-norm to this", parsePositiveNumber)
    .option('--no-augment', 'no data augmentation (default: random crops and horizontal flips)')
    .option('--seed <n>', 'seed of the weights, data order and augmentation: the same seed repeats a run', parseNonNegativeInt, trainingDefaults.seed)
    .option('--channels <n>', 'folder data: decode to 1 (grey) or 3 (RGB) channels', parseChannels)
    .option('--image-size <n>', 'folder data: side length of the training crops (default 64; 112 with --loss, whose folders are taken as aligned face crops: resized, not cropped, and only flipped)', parsePositiveInt)
    .option('--strict', 'folder data: an unreadable image is an error instead of being skipped')
    .option('--limit-train <n>', 'use only N training images, for quick runs (the first N of Fashion-MNIST; spread over the classes of a folder)', parsePositiveInt)
    .option('--limit-test <n>', 'use only N test images (chosen as for --limit-train)', parsePositiveInt)
    .option('--loss <name>', `train an embedding network: ${embeddingLossNames.join(', ')} over its embeddings, one class centre per identity folder (default: a classifier with cross-entropy)`, parseChoice(embeddingLossNames))
    .option('--embedding-size <n>', 'with --loss: length of the embedding the model outputs (default 512)', parsePositiveInt)
    .option('--scale <s>', `with a margin loss: the scale s (default ${marginDefaults.arcface.s})`, parsePositiveNumber)
    .option('--margin <m>', `arcface: the angular margin m (default ${marginDefaults.arcface.m2}); cosface: the cosine margin m (default ${marginDefaults.cosface.m3})`, parseNonNegativeNumber)
    .option('--margins <m1,m2,m3>', `combined: cos(m1 θ + m2) - m3 (default ${marginDefaults.combined.m1},${marginDefaults.combined.m2},${marginDefaults.combined.m3})`, parseMargins);
  addRuntimeOptions(command).action(async (model: string | undefined, options: TrainCommandOptions, cmd: Command) => {
    if (options.threads !== undefined) setNumThreads(options.threads);
    let config: RunConfig;
    let out: string;
    if (options.resume) {
      const explicitEpochs = cmd.getOptionValueSource('epochs') === 'cli' ? options.epochs : undefined;
      config = resumeConfig(options.resume, { epochs: explicitEpochs });
      if (model !== undefined && model !== config.model) throw new Error(`${options.resume} is a run of ${config.model}, not ${model}`);
      if (options.out !== undefined && resolve(options.out) !== resolve(options.resume)) throw new Error('--resume continues the run in its own folder; leave out --out');
      // Every setting that shapes the result comes from the run; only these may change.
      const allowed = new Set(['resume', 'out', 'epochs', 'workers', 'threads', 'progress']);
      const ignored = cmd.options.filter((option) => !allowed.has(option.attributeName()) && cmd.getOptionValueSource(option.attributeName()) === 'cli');
      if (ignored.length > 0) console.log(`note: --resume uses the run's saved settings; ignoring ${ignored.map((option) => option.long).join(', ')}`);
      const saved = readSessionConfig(options.resume).epochs;
      if (explicitEpochs !== undefined && explicitEpochs !== saved) {
        console.log(`note: the run now has ${explicitEpochs} epochs instead of ${saved}; the learning-rate schedule is recomputed for ${explicitEpochs}`);
      }
      out = options.resume;
    } else {
      if (model === undefined) throw new Error('missing model name (or --resume RUN_DIR to continue a run)');
      config = configFromOptions(model, options);
      const sgdOnly = ['momentum', 'nesterov'].filter((key) => cmd.getOptionValueSource(key) === 'cli');
      if (config.optimizer !== 'sgd' && sgdOnly.length > 0) console.log(`note: ${sgdOnly.map((k) => (k === 'nesterov' ? '--no-nesterov' : '--momentum')).join(' and ')} apply to SGD only; ignored for ${config.optimizer}`);
      out = options.out ?? defaultOut(model, config.data.data);
    }
    const { model: trained, head } = await trainWithConsole(config, { out, resume: Boolean(options.resume), workers: options.workers, progress: options.progress });
    trained.dispose();
    head?.dispose();
  });
}
