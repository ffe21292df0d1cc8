// `resnets train MODEL --data fashion-mnist|mnist|cifar10|cifar100|DIR --out RUN_DIR`: trains a model, with a
// progress bar, per-epoch metrics, checkpoints, curves, and Ctrl-C that saves a
// resumable checkpoint (`resnets train --resume RUN_DIR` continues it).
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { count, createProgressView, formatDuration } from '../../train/progress.js';
import { builtinDataName, builtinDataNames } from '../../train/data-setup.js';
import { scheduleNames, type ScheduleName } from '../../train/schedule.js';
import {
  optimizerDefaults,
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
import type { GradCheckpointingOptions } from '../../models/classifier.js';
import { trainingPrecisions, type TrainingPrecision } from '../../train/step.js';
import { setNumThreads } from '../../torch/runtime.js';
import { embeddingLossNames, type EmbeddingLossName } from '../../train/losses/embedding-heads.js';
import { marginDefaults, type MarginSpec } from '../../train/losses/margin.js';
import { Interrupted } from '../errors.js';
import {
  registeredModelOptionsHelp, parseChannels, parseChoice, parseModelOptions, parseNonNegativeInt, parseNonNegativeNumber, parseOpenFraction, parsePositiveInt,
  parsePositiveNumber, parseProbability, parseUnitInterval,
} from '../options.js';
import { modelInfo } from '../model-loading.js';
import { addDistributedOptions, distributedRole, distributedRuntimeOptions, joinFromCommandLine, launchFromCommandLine, type DistributedCommandOptions } from '../distributed-options.js';
import { destroy as leaveProcessGroup } from '../../train/distributed/process-group.js';
import { describeFailure, RankFailureError } from '../../train/distributed/failure.js';
import { perRankBatchSize, type DataParallelOptions } from '../../train/distributed/run.js';

function parseEpochList(text: string): number[] {
  const values = text.split(',').map((part) => Number(part));
  if (values.some((v) => !Number.isFinite(v) || v <= 0)) throw new InvalidArgumentError(`expected epochs separated by commas such as 15,25, got '${text}'`);
  return values;
}

/** Options that go into the run config under the same name. */
type SameNamed = 'mixup' | 'cutmix' | 'mixupProb' | 'mixupSwitchProb' | 'modelEma' | 'modelEmaDecay' | 'monitor' | 'earlyStopping' | 'earlyStoppingDelta' | 'rmspropAlpha';

export interface TrainCommandOptions extends Pick<RunConfig, SameNamed>, DistributedCommandOptions {
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
  nesterov?: boolean;
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
  precision: TrainingPrecision;
  augment: boolean;
  seed: number;
  optEps?: number;
  pctStart?: number;
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
  cycleMomentum: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  plateauPatience?: number;
  plateauThreshold?: number;
  plateauCooldown?: number;
  autoAugment?: 'randaugment' | 'trivialaugment';
  raOps?: number;
  raMagnitude?: number;
  colorJitter?: number;
  randomErasing?: number;
  valSplit?: number;
  cifar100Labels?: 'fine' | 'coarse';
  channels?: 1 | 3;
  imageSize?: number;
  strict?: boolean;
  limitTrain?: number;
  limitTest?: number;
  workers: number;
  threads?: number;
  progress: boolean;
  checkpointActivations: boolean;
  segments?: number;
  channelsLast?: boolean;
  mkldnn?: boolean;
  loss?: EmbeddingLossName;
  embeddingSize?: number;
  scale?: number;
  margin?: number;
  margins?: number[];
  weights?: string;
  freeze?: boolean;
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

const dataChoices = `${builtinDataNames.map((name) => `'${name}'`).join(', ')} or a folder of class sub-folders`;

function configFromOptions(model: string, options: TrainCommandOptions): RunConfig {
  if (!options.data) throw new Error(`--data is required (${dataChoices})`);
  const modelOptions = Object.fromEntries(Object.entries({ dropPathRate: options.dropPathRate, dropRate: options.dropRate }).filter(([, v]) => v !== undefined));
  const recipe = {
    autoAugment: options.autoAugment,
    randAugmentOps: options.raOps,
    randAugmentMagnitude: options.raMagnitude,
    colorJitter: options.colorJitter,
    randomErasing: options.randomErasing,
  };
  return resolveRunConfig({
    model,
    modelOptions: { ...options.modelOptions, ...modelOptions },
    data: {
      data: options.data,
      testData: options.testData,
      dataDir: options.dataDir,
      channels: options.channels,
      // Embedding training on folders follows InsightFace: aligned 112x112 crops, flips only.
      imageSize: options.imageSize ?? (options.loss && !builtinDataName(options.data) ? 112 : undefined),
      aligned: options.loss && !builtinDataName(options.data) ? true : undefined,
      strict: options.strict,
      limitTrain: options.limitTrain,
      limitTest: options.limitTest,
      valSplit: options.valSplit,
      validationSeed: options.valSplit === undefined ? undefined : options.seed,
      cifar100Labels: options.cifar100Labels,
    },
    epochs: options.epochs,
    batchSize: options.batchSize,
    optimizer: options.optimizer,
    lr: options.lr,
    momentum: options.momentum,
    // Left out (undefined: commander sets no default when both --nesterov and --no-nesterov exist), the model family's or the library's default applies.
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
    precision: options.precision,
    augment: options.augment,
    seed: options.seed,
    rmspropAlpha: options.rmspropAlpha,
    optimizerEps: options.optEps,
    oneCycle: options.schedule === 'onecycle'
      ? { pctStart: options.pctStart, divFactor: options.divFactor, finalDivFactor: options.finalDivFactor, threePhase: options.threePhase, cycleMomentum: options.cycleMomentum, baseMomentum: options.baseMomentum, maxMomentum: options.maxMomentum }
      : undefined,
    plateau: options.schedule === 'plateau' ? { patience: options.plateauPatience, threshold: options.plateauThreshold, cooldown: options.plateauCooldown } : undefined,
    monitor: options.monitor,
    earlyStopping: options.earlyStopping,
    earlyStoppingDelta: options.earlyStoppingDelta,
    recipe: Object.values(recipe).some((value) => value !== undefined) ? recipe : undefined,
    mixup: options.mixup,
    cutmix: options.cutmix,
    mixupProb: options.mixupProb,
    mixupSwitchProb: options.mixupSwitchProb,
    modelEma: options.modelEma || options.modelEmaDecay !== undefined ? true : undefined,
    modelEmaDecay: options.modelEmaDecay,
    ...(options.loss ? { loss: options.loss, embeddingSize: options.embeddingSize ?? 512, margin: marginFromOptions(options) } : noEmbeddingOptions(options)),
    weights: options.weights,
    freeze: options.freeze,
    syncBatchNorm: options.syncBn,
  });
}

/** A classifier run: --embedding-size and the margin options need --loss. */
function noEmbeddingOptions(options: TrainCommandOptions): Record<string, never> {
  if (options.embeddingSize !== undefined) throw new Error(`--embedding-size applies to embedding training; add --loss ${embeddingLossNames.join('|')}`);
  marginFromOptions(options);
  return {};
}

/** Options that only mean something with another option or value; a note names each one given without it. */
const dependentOptions: { keys: (keyof TrainCommandOptions)[]; applies: (o: TrainCommandOptions) => boolean; needs: string }[] = [
  { keys: ['momentum'], applies: (o) => ['sgd', 'rmsprop', 'rmsproptf'].includes(o.optimizer), needs: '--optimizer sgd, rmsprop or rmsproptf' },
  { keys: ['nesterov'], applies: (o) => o.optimizer === 'sgd', needs: '--optimizer sgd' },
  { keys: ['rmspropAlpha'], applies: (o) => o.optimizer === 'rmsprop' || o.optimizer === 'rmsproptf', needs: '--optimizer rmsprop or rmsproptf' },
  { keys: ['optEps'], applies: (o) => o.optimizer !== 'sgd', needs: 'an adaptive optimizer (not sgd)' },
  { keys: ['pctStart', 'divFactor', 'finalDivFactor', 'threePhase', 'cycleMomentum', 'baseMomentum', 'maxMomentum'], applies: (o) => o.schedule === 'onecycle', needs: '--schedule onecycle' },
  { keys: ['plateauPatience', 'plateauThreshold', 'plateauCooldown'], applies: (o) => o.schedule === 'plateau', needs: '--schedule plateau' },
  { keys: ['earlyStoppingDelta'], applies: (o) => o.earlyStopping !== undefined, needs: '--early-stopping' },
  { keys: ['raOps', 'raMagnitude'], applies: (o) => o.autoAugment === 'randaugment', needs: '--auto-augment randaugment' },
  { keys: ['mixupProb', 'mixupSwitchProb'], applies: (o) => Boolean(o.mixup || o.cutmix), needs: '--mixup or --cutmix' },
];

/** Adds the options every training command shares (train and demo). */
export function addRuntimeOptions(command: Command): Command {
  return command
    .option('--workers <n>', 'batches prepared ahead while the model trains (image decoding runs on the libuv thread pool; set UV_THREADPOOL_SIZE for more decoders)', parseNonNegativeInt, 2)
    .option('--threads <n>', "libtorch threads for the model (default: RESNETS_NUM_THREADS; else train picks one from the batch size and the machine's load and prints it, and demo uses every core)", parsePositiveInt)
    .option('--no-progress', 'no progress bar, only the per-epoch lines');
}

/**
 * Runs a session with Ctrl-C handling and terminal output. A NaN loss or any other
 * failure is thrown (the CLI prints it and exits 1); a stop by Ctrl-C returns normally.
 */
export async function trainWithConsole(
  config: RunConfig,
  options: {
    out: string;
    resume: boolean;
    workers: number;
    progress: boolean;
    gradCheckpointing?: boolean | GradCheckpointingOptions;
    /** Train as one rank of the initialised process group. */
    dataParallel?: DataParallelOptions;
    /** Print nothing but errors (the ranks of a data-parallel run other than 0). */
    quiet?: boolean;
    channelsLast?: boolean;
    mkldnn?: boolean;
    /** Pick the thread count from the batch and the machine's load, and say so. */
    autoThreads?: boolean;
  },
): Promise<SessionResult> {
  const say = options.quiet ? () => {} : (line: string) => console.log(line);
  const view = options.quiet
    ? createProgressView({ interactive: false, write: () => {}, logEverySeconds: 0 })
    : createProgressView({ interactive: options.progress && Boolean(process.stderr.isTTY) });
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
  // A rank started by --nproc stops (and rank 0 saves) when its launcher goes away.
  const onLauncherGone = () => {
    stopRequested = true;
  };
  process.on('disconnect', onLauncherGone);
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
      gradCheckpointing: options.gradCheckpointing,
      channelsLast: options.channelsLast,
      mkldnn: options.mkldnn,
      autoThreads: options.autoThreads,
      dataParallel: options.dataParallel,
    });
    const { result, run } = session;
    view.stop();
    const elapsed = formatDuration((performance.now() - started) / 1000);
    const { state } = result;
    if (result.status === 'stopped') {
      const where = state.batch === 0 ? `after epoch ${state.epoch}` : `in epoch ${state.epoch + 1} at batch ${state.batch}`;
      say(`stopped ${where} (step ${state.iteration}); resumable checkpoint saved to ${run.file('state')}`);
      say(`resume with: resnets train --resume ${run.path}${resumeSuffix(state.worldSize)}`);
      return session;
    }
    const scored = result.records.some((r) => r.testAccuracy !== undefined) ? 'test' : 'training';
    const best = state.bestAccuracy >= 0 ? `; best ${scored} accuracy ${(state.bestAccuracy * 100).toFixed(2)}% at epoch ${state.bestEpoch}` : '';
    if (result.status === 'early-stopped') {
      const patience = config.earlyStopping ?? 0;
      say(`stopped early after epoch ${state.earlyStoppedAt} of ${config.epochs}: ${config.monitor ?? 'loss'} did not improve for ${count(patience, 'epoch')} (in ${elapsed}${best})`);
    } else {
      say(`finished ${count(config.epochs, 'epoch')} in ${elapsed}${best}`);
    }
    const files = ['metrics.jsonl', 'curves.svg', 'last.safetensors', 'best.safetensors', ...(session.head ? ['head.safetensors: the class centres'] : []), ...(config.modelEma ? ['ema.safetensors'] : [])];
    say(`run saved to ${run.path} (${files.join(', ')})`);
    return session;
  } catch (error) {
    view.stop();
    // A failed collective: name the rank that left, and where the run can resume from.
    const described = await describeFailure(error);
    if (described instanceof RankFailureError && !options.quiet && existsSync(join(options.out, 'state.safetensors'))) {
      described.message += `; the last checkpoint in ${options.out} is intact: resume with resnets train --resume ${options.out} --nproc N (the same world size)`;
    }
    throw described;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('disconnect', onLauncherGone);
  }
}

export function register(program: Command): void {
  const command = program
    .command('train')
    .description('Train a model on MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100 or an image folder; writes metrics, checkpoints and curves to a run folder')
    .argument('[model]', "model name (see 'resnets list'); optional with --resume")
    .option('--model-options <json>', registeredModelOptionsHelp, parseModelOptions)
    .option('--data <source>', `${dataChoices} (with train/ and test/ or val/ inside, or one set)`)
    .option('--test-data <dir>', 'a separate folder of test images for folder data')
    .option('--data-dir <dir>', "mnist: the folder of its four IDX files; cifar10/cifar100: the unpacked binary release (cifar-10-batches-bin, cifar-100-binary) or the folder holding it; fashion-mnist: its IDX files, if not where Debian's package puts them")
    .option('--cifar100-labels <kind>', 'cifar100: train on the 100 fine classes or the 20 coarse superclasses (default fine)', parseChoice(['fine', 'coarse'] as const))
    .option('--val-split <fraction>', 'folder data without a test split: hold out this share of every class (stratified, seeded by --seed) as the test set', parseOpenFraction)
    .option('--out <dir>', 'run folder (default: runs/<model>-<data>)')
    .option('--resume <dir>', 'continue the run in this folder from its last checkpoint, with its saved settings')
    .option('--weights <file|name>', 'fine-tune: start from this checkpoint (.pth, .pt or .safetensors; torchvision keys), or a published one by name (IMAGENET1K_V1; see resnets weights list); the classifier is re-initialised when the class count differs')
    .option('--freeze', 'train only the classifier; every other layer keeps its (loaded) weights')
    .option('--epochs <n>', 'epochs to train', parsePositiveInt, trainingDefaults.epochs)
    .option('--batch-size <n>', 'images per step', parsePositiveInt, trainingDefaults.batchSize)
    .option('--lr <rate>', `peak learning rate (default: ${optimizerNames.map((name) => `${optimizerDefaults[name].lr} for ${name}`).join(', ')}; with sgd, a family's own where 'resnets list' shows training defaults, such as FractalNet's 0.02)`, parsePositiveNumber)
    .option('--optimizer <name>', `one of ${optimizerNames.join(', ')} (rmsprop: torch.optim.RMSprop; rmsproptf: timm's TensorFlow-style RMSprop; lamb: timm's LAMB)`, parseChoice(optimizerNames), trainingDefaults.optimizer)
    .option('--momentum <m>', 'momentum of SGD and RMSprop', parseNonNegativeNumber, trainingDefaults.momentum)
    .option('--nesterov', "SGD: Nesterov momentum (the default, except for families whose training defaults say otherwise, such as FractalNet)")
    .option('--no-nesterov', 'SGD: plain momentum instead of Nesterov momentum')
    .option('--drop-path-rate <p>', "stochastic depth: the last block's drop probability, earlier blocks' rising linearly from 0 (default 0)", parseProbability)
    .option('--drop-rate <p>', 'dropout before the classifier (default 0)', parseProbability)
    .option('--weight-decay <wd>', `weight decay: L2 for sgd and rmsprop, decoupled for adamw, inside the trust ratio for lamb (default: ${optimizerNames.map((name) => `${optimizerDefaults[name].weightDecay} for ${name}`).join(', ')})`, parseNonNegativeNumber)
    .option('--rmsprop-alpha <a>', "RMSprop's smoothing constant (default 0.99 for rmsprop, 0.9 for rmsproptf)", parseUnitInterval)
    .option('--opt-eps <eps>', "the adaptive optimizers' epsilon (default: adamw 1e-8, rmsprop 1e-8, rmsproptf 1e-10, lamb 1e-6)", parsePositiveNumber)
    .option('--decay-norm-bias', 'also decay BatchNorm weights and biases (by default they are not decayed)')
    .option('--schedule <name>', `learning-rate schedule: ${scheduleNames.join(', ')} (onecycle: torch's OneCycleLR over the run; plateau: torch's ReduceLROnPlateau on --monitor after each epoch)`, parseChoice(scheduleNames), trainingDefaults.schedule)
    .option('--milestones <epochs>', 'multistep: epochs at which the rate is multiplied by --gamma (default: 50% and 75% of the run)', parseEpochList)
    .option('--step-epochs <n>', 'step: epochs between decays (default: a third of the run)', parsePositiveNumber)
    .option('--gamma <g>', 'step, multistep and plateau: the decay factor (default 0.1)', parsePositiveNumber)
    .option('--warmup-epochs <n>', 'linear warm-up from a tenth of --lr over this many epochs (default: 1; a fifth of the run for runs under 5 epochs; 0 for onecycle, which warms up by itself)', parseNonNegativeNumber)
    .option('--min-lr <rate>', 'cosine: the final learning rate; plateau: the lowest rate a reduction goes to', parseNonNegativeNumber, trainingDefaults.minLr)
    .option('--pct-start <p>', 'onecycle: share of the run rising to --lr (default 0.3)', parseUnitInterval)
    .option('--div-factor <d>', 'onecycle: the run starts at --lr / d (default 25)', parsePositiveNumber)
    .option('--final-div-factor <d>', 'onecycle: and ends at --lr / div-factor / d (default 1e4)', parsePositiveNumber)
    .option('--three-phase', "onecycle: rise, fall back to the start, then anneal (fast.ai's original shape)")
    .option('--no-cycle-momentum', 'onecycle: keep the momentum (or beta1) fixed instead of cycling it between --max-momentum and --base-momentum')
    .option('--base-momentum <m>', 'onecycle: the momentum at the peak learning rate (default 0.85)', parseUnitInterval)
    .option('--max-momentum <m>', 'onecycle: the momentum at the start and end (default 0.95)', parseUnitInterval)
    .option('--plateau-patience <n>', 'plateau: epochs without improvement before the rate is multiplied by --gamma (default 10)', parseNonNegativeInt)
    .option('--plateau-threshold <t>', 'plateau: the relative change that counts as an improvement (default 1e-4)', parseNonNegativeNumber)
    .option('--plateau-cooldown <n>', 'plateau: epochs to wait after a reduction before counting again (default 0)', parseNonNegativeInt)
    .option('--monitor <metric>', 'what plateau and early stopping watch: loss or accuracy (of the test data; of training without it)', parseChoice(['loss', 'accuracy'] as const))
    .option('--early-stopping <patience>', 'stop after this many epochs without improvement of --monitor (Keras EarlyStopping)', parseNonNegativeInt)
    .option('--early-stopping-delta <d>', 'early stopping: the smallest change that counts as an improvement (default 0)', parseNonNegativeNumber)
    .option('--label-smoothing <e>', 'label smoothing of the training loss (with --mixup/--cutmix, folded into the mixed targets)', parseUnitInterval, trainingDefaults.labelSmoothing)
    .option('--clip-grad-norm <max>', "clip the gradients' joint 2-norm to this", parsePositiveNumber)
    .option('--precision <p>', 'fp32, or bf16: mixed precision as PyTorch\'s CPU autocast (convolutions and matmuls in bfloat16; weights, optimizer state, norms and the loss in float32); fast on CPUs with AVX512-BF16 or AMX; trains channels-last unless --no-mkldnn', parseChoice(trainingPrecisions), 'fp32')
    .option('--no-augment', 'no crops or flips (default: random resized crops and flips for folders; pad-4 random crops, and flips except for MNIST, for the built-in sets)')
    .option('--auto-augment <policy>', "torchvision's randaugment or trivialaugment (TrivialAugment Wide), after the crop and flip", parseChoice(['randaugment', 'trivialaugment'] as const))
    .option('--ra-ops <n>', 'randaugment: ops per image (default 2)', parseNonNegativeInt)
    .option('--ra-magnitude <m>', 'randaugment: magnitude bin, 0 to 30 (default 9)', parseNonNegativeInt)
    .option('--color-jitter <s>', 'ColorJitter with this brightness, contrast and saturation strength (timm: 0.4)', parsePositiveNumber)
    .option('--random-erasing <p>', "RandomErasing probability on the normalised image (timm's --reprob; 0.25 in its recipes)", parseUnitInterval)
    .option('--mixup <alpha>', 'mixup with Beta(alpha, alpha) weights, soft targets (timm: 0.2 to 0.8)', parseNonNegativeNumber)
    .option('--cutmix <alpha>', 'CutMix with Beta(alpha, alpha) areas (timm: 1.0); with --mixup too, each batch gets one of the two', parseNonNegativeNumber)
    .option('--mixup-prob <p>', 'mixup/CutMix: probability that a batch is mixed (default 1)', parseUnitInterval)
    .option('--mixup-switch-prob <p>', 'with both: probability of CutMix rather than mixup (default 0.5)', parseUnitInterval)
    .option('--model-ema', 'keep an exponential moving average of the weights; evaluated each epoch and saved as ema.safetensors')
    .option('--model-ema-decay <d>', 'model EMA decay per step (default 0.9998; implies --model-ema)', parseUnitInterval)
    .option('--seed <n>', 'seed of the weights, data order and augmentation: the same seed repeats a run', parseNonNegativeInt, trainingDefaults.seed)
    .option('--channels <n>', 'folder data: decode to 1 (grey) or 3 (RGB) channels', parseChannels)
    .option('--image-size <n>', 'folder data: side length of the training crops (default 64; 112 with --loss, whose folders are taken as aligned face crops: resized, not cropped, and only flipped)', parsePositiveInt)
    .option('--strict', 'folder data: an unreadable image is an error instead of being skipped')
    .option('--limit-train <n>', 'use only N training images, for quick runs (the first N of Fashion-MNIST; spread over the classes of a folder)', parsePositiveInt)
    .option('--limit-test <n>', 'use only N test images (chosen as for --limit-train)', parsePositiveInt)
    .option('--checkpoint-activations', 'keep only segment inputs in the forward pass and recompute the rest in backward: less memory, the same result, about a third more compute')
    .option('--segments <n>', 'with --checkpoint-activations: group the blocks into N checkpointed segments (default: every block its own)', parsePositiveInt)
    .option('--channels-last', 'train with channels-last (NHWC) convolution weights and batches: faster on CPUs for larger models, and the default with --precision bf16 (see bench/README.md)')
    .option('--mkldnn', "require activations in oneDNN's blocked layout through the training step (an error where it cannot apply); by default it is used where it applies: float32, models whose every op runs on it (ResNet, ResNeXt, pre-activation and CIFAR ResNets), checked before training (see bench/README.md)")
    .option('--no-mkldnn', 'train with dense NCHW activations where the default would take a faster layout (the blocked layout in float32, channels-last with --precision bf16)')
    .option('--loss <name>', `train an embedding network: ${embeddingLossNames.join(', ')} over its embeddings, one class centre per identity folder (default: a classifier with cross-entropy)`, parseChoice(embeddingLossNames))
    .option('--embedding-size <n>', 'with --loss: length of the embedding the model outputs (default 512)', parsePositiveInt)
    .option('--scale <s>', `with a margin loss: the scale s (default ${marginDefaults.arcface.s})`, parsePositiveNumber)
    .option('--margin <m>', `arcface: the angular margin m (default ${marginDefaults.arcface.m2}); cosface: the cosine margin m (default ${marginDefaults.cosface.m3})`, parseNonNegativeNumber)
    .option('--margins <m1,m2,m3>', `combined: cos(m1 θ + m2) - m3 (default ${marginDefaults.combined.m1},${marginDefaults.combined.m2},${marginDefaults.combined.m3})`, parseMargins);
  addRuntimeOptions(addDistributedOptions(command)).action(async (model: string | undefined, options: TrainCommandOptions, cmd: Command) => {
    const role = distributedRole(options);
    if (options.threads !== undefined) setNumThreads(options.threads);
    if (options.segments !== undefined && !options.checkpointActivations) throw new Error('--segments applies with --checkpoint-activations; add it or leave out --segments');
    const gradCheckpointing = options.checkpointActivations ? (options.segments === undefined ? true : { segments: options.segments }) : undefined;
    let config: RunConfig;
    let out: string;
    if (options.resume) {
      const explicitEpochs = cmd.getOptionValueSource('epochs') === 'cli' ? options.epochs : undefined;
      config = resumeConfig(options.resume, { epochs: explicitEpochs });
      if (model !== undefined && model !== config.model) throw new Error(`${options.resume} is a run of ${config.model}, not ${model}`);
      if (options.out !== undefined && resolve(options.out) !== resolve(options.resume)) throw new Error('--resume continues the run in its own folder; leave out --out');
      // Every setting that shapes the result comes from the run; only these may change.
      const allowed = new Set(['resume', 'out', 'epochs', 'workers', 'threads', 'progress', 'checkpointActivations', 'segments', 'channelsLast', 'mkldnn', ...distributedRuntimeOptions]);
      const ignored = cmd.options.filter((option) => !allowed.has(option.attributeName()) && cmd.getOptionValueSource(option.attributeName()) === 'cli');
      if (ignored.length > 0) console.log(`note: --resume uses the run's saved settings; ignoring ${ignored.map((option) => option.long).join(', ')}`);
      const saved = readSessionConfig(options.resume).epochs;
      if (explicitEpochs !== undefined && explicitEpochs !== saved) {
        console.log(`note: the run now has ${count(explicitEpochs, 'epoch')} instead of ${saved}; the learning-rate schedule is recomputed for ${explicitEpochs}`);
      }
      out = options.resume;
    } else {
      if (model === undefined) throw new Error('missing model name (or --resume RUN_DIR to continue a run)');
      modelInfo(model); // a registered model: an unknown name suggests close ones and 'resnets list'
      config = configFromOptions(model, options);
      for (const { keys, applies, needs } of dependentOptions) {
        const given = cmd.options.filter((option) => keys.includes(option.attributeName() as keyof TrainCommandOptions) && cmd.getOptionValueSource(option.attributeName()) === 'cli');
        if (given.length > 0 && !applies(options)) console.log(`note: ${given.map((option) => option.long).join(', ')} ${given.length === 1 ? 'applies' : 'apply'} only with ${needs}; ignored`);
      }
      out = options.out ?? defaultOut(model, config.data.data);
    }
    if (role === 'launcher') {
      perRankBatchSize(config.batchSize, options.nproc!); // refused here rather than by every rank
      const launched = await launchFromCommandLine(options);
      if (launched.code === 130) throw new Interrupted();
      if (launched.code !== 0) throw new Error(`${launched.failure ?? 'a rank failed'} (the data-parallel run of ${options.nproc} ranks stopped)`);
      return;
    }
    const group = role === 'rank' ? await joinFromCommandLine(options) : undefined;
    try {
      const dataParallel = group ? { bucketCapMb: options.bucketCapMb } : undefined;
      // Without --threads or RESNETS_NUM_THREADS a single-process run picks the count from the batch and the machine's load.
      const autoThreads = !group && options.threads === undefined && !process.env.RESNETS_NUM_THREADS;
      const session = await trainWithConsole(config, {
        out, resume: Boolean(options.resume), workers: options.workers, progress: options.progress, gradCheckpointing, dataParallel, quiet: group !== undefined && group.rank !== 0,
        channelsLast: options.channelsLast, mkldnn: options.mkldnn, autoThreads,
      });
      session.model.dispose();
      session.head?.dispose();
      if (session.result.status === 'stopped') throw new Interrupted();
    } finally {
      if (group) leaveProcessGroup();
    }
  });
}

/** The --nproc a resume command needs. */
const resumeSuffix = (worldSize: number | undefined) => (worldSize && worldSize > 1 ? ` --nproc ${worldSize}` : '');
