// One training run from a plain config: load the data, build the model, optimiser and
// schedule, open the run directory (fresh or resumed) and run the loop. The train and
// demo commands are thin shells around this.
import { existsSync, readdirSync } from 'node:fs';
import { createClassifierByName, createModelByName, getModelInfo } from '../models/index.js';
import { EmbeddingModel } from '../models/embedding.js';

import { ImageClassifier, type GradCheckpointingOptions } from '../models/classifier.js';
import { writeFileAtomic } from '../io/atomic.js';
import { manualSeed } from '../torch/runtime.js';
import { RunDirectory, readRunConfig, RUN_FILES, type TrainingState, type WeightsInfo } from './checkpoint.js';
import { dataTitle, describeSkipped, FOLDER_CROP_PCT, normalizationFor, prepareData, testLoader, trainLoader, type AugmentRecipe, type DataSpec, type PreparedData } from './data-setup.js';
import { EarlyStopping } from './early-stopping.js';
import { ModelEma } from './ema.js';
import { initialState, train, type EpochRecord, type StepProgress, type TrainResult } from './loop.js';
import { Mixup } from './mixup.js';
import { AdamW } from './optim/adamw.js';
import { paramGroupsFor } from './optim/groups.js';
import { Lamb } from './optim/lamb.js';
import type { Optimizer } from './optim/optimizer.js';
import { RMSprop, RMSpropTF } from './optim/rmsprop.js';
import { SGD } from './optim/sgd.js';
import { count } from './progress.js';
import { freezeAllButClassifier, loadPretrainedFile } from './pretrained.js';
import type { PlateauShape } from './plateau.js';
import { scheduleFromSpec, type OneCycleShape, type ScheduleName } from './schedule.js';
import { createEmbeddingHead, type EmbeddingHead, type EmbeddingLossName } from './losses/embedding-heads.js';
import type { MarginSpec } from './losses/margin.js';
import { embeddingModelOptions } from './embedding-setup.js';
import type { Module } from '../nn/module.js';
import { cpuFeatures } from '../torch/cpu-features.js';
import { getNumThreads, setNumThreads } from '../torch/runtime.js';
import { convWeightsToChannelsLast_ } from '../models/index.js';
import { chooseTrainingThreads } from './threads.js';
import { checkPrecision, type TrainingPrecision } from './step.js';
import { channelsLastByDefault, chooseTrainingLayout } from './mkldnn-check.js';
import { describeTrainingDefaults, type FamilyTrainingDefaults } from '../models/family.js';
import { checkResumeWorldSize, DataParallelRun, type DataParallelOptions } from './distributed/run.js';

/** What a run trains: a classifier, or (with a loss head) an embedding model. */
export type TrainableModel = ImageClassifier | EmbeddingModel;

export type OptimizerName = 'sgd' | 'adamw' | 'rmsprop' | 'rmsproptf' | 'lamb';
export const optimizerNames: OptimizerName[] = ['sgd', 'adamw', 'rmsprop', 'rmsproptf', 'lamb'];

/**
 * Learning rate and weight decay when none is given: SGD's from the ResNet papers, AdamW's
 * and LAMB's from timm's recipes (DeiT, ResNet strikes back), RMSprop's from timm's
 * EfficientNet/MobileNet recipes (weight decay 1e-5).
 */
export const optimizerDefaults: Record<OptimizerName, { lr: number; weightDecay: number }> = {
  sgd: { lr: 0.1, weightDecay: 5e-4 },
  adamw: { lr: 1e-3, weightDecay: 0.05 },
  rmsprop: { lr: 0.01, weightDecay: 1e-5 },
  rmsproptf: { lr: 0.01, weightDecay: 1e-5 },
  lamb: { lr: 5e-3, weightDecay: 0.01 },
};

/** Everything that decides a run's result; saved as config.json and reused on resume. */
export interface RunConfig {
  model: string;
  /** Family options passed to createModel besides numClasses and inChans. */
  modelOptions: Record<string, unknown>;
  data: DataSpec;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** No weight decay on BatchNorm weights and biases. */
  noDecayNormBias: boolean;
  schedule: ScheduleName;
  milestones?: number[];
  stepEpochs?: number;
  gamma?: number;
  warmupEpochs: number;
  minLr: number;
  labelSmoothing: number;
  clipGradNorm?: number;
  augment: boolean;
  seed: number;
  /** Optimiser settings besides lr, momentum and weight decay (RMSprop's alpha; eps of the adaptive ones). Fields added later are optional, so older runs still resume. */
  rmspropAlpha?: number;
  optimizerEps?: number;
  /** onecycle schedule: torch's OneCycleLR settings. */
  oneCycle?: OneCycleShape;
  /** plateau schedule (factor: gamma; floor: minLr). */
  plateau?: PlateauShape;
  /** What plateau and early stopping watch (default loss). */
  monitor?: 'loss' | 'accuracy';
  /** Stop after this many epochs without improvement. */
  earlyStopping?: number;
  earlyStoppingDelta?: number;
  /** Augmentation beyond crops and flips. */
  recipe?: AugmentRecipe;
  /** Mixup / CutMix Beta alphas (0: off), probability per batch and CutMix's share. */
  mixup?: number;
  cutmix?: number;
  mixupProb?: number;
  mixupSwitchProb?: number;
  /** Keep an exponential moving average of the weights (decay default: ModelEma's 0.9998). */
  modelEma?: boolean;
  modelEmaDecay?: number;
  /**
   * Embedding training: the model's output is an embedding of `embeddingSize` and the
   * loss is this head over it, with one class centre per identity (absent: a classifier
   * trained with cross-entropy on its logits).
   */
  loss?: EmbeddingLossName;
  embeddingSize?: number;
  /** Margin settings that differ from InsightFace's defaults for `loss` (s, m1, m2, m3). */
  margin?: Partial<MarginSpec>;
  /** Start from this checkpoint (fine-tuning); the classifier is re-initialised when the class count differs. */
  weights?: string;
  /** Train only the classifier: every other parameter stays as built or loaded. */
  freeze?: boolean;
  /** 'bf16': mixed-precision forward passes as PyTorch's CPU autocast (absent in older runs: 'fp32'). */
  precision?: TrainingPrecision;
  /** Data-parallel runs: batch-norm statistics over the global batch (SyncBatchNorm). */
  syncBatchNorm?: boolean;
}

/** What a caller must give: the model and the data; everything else has the library's defaults (those of `resnets train`). */
export type RunConfigInput = Pick<RunConfig, 'model' | 'data'> & Partial<Omit<RunConfig, 'model' | 'data'>>;

/** The training defaults, shared by runSession callers and `resnets train`. */
export const trainingDefaults = {
  epochs: 30,
  batchSize: 128,
  optimizer: 'sgd' as OptimizerName,
  momentum: 0.9,
  nesterov: true,
  noDecayNormBias: true,
  schedule: 'cosine' as ScheduleName,
  minLr: 0,
  labelSmoothing: 0,
  augment: true,
  seed: 0,
};

/** Peak learning rate per optimizer (optimizerDefaults). */
export const defaultLr = (optimizer: OptimizerName): number => optimizerDefaults[optimizer]?.lr ?? 0.1;
/** Weight decay per optimizer (optimizerDefaults). */
export const defaultWeightDecay = (optimizer: OptimizerName): number => optimizerDefaults[optimizer]?.weightDecay ?? 5e-4;
/** One epoch, or a fifth of a shorter run, so a short run is not all warm-up; none for OneCycle, which warms up by itself. */
export const defaultWarmupEpochs = (epochs: number, schedule: ScheduleName = 'cosine'): number => (schedule === 'onecycle' ? 0 : Math.min(1, epochs / 5));

/** The model family's own SGD settings (FamilyDefinition.trainingDefaults) that a run with this optimizer takes. */
export function familyTrainingDefaults(model: string, optimizer: OptimizerName): FamilyTrainingDefaults | undefined {
  return optimizer === 'sgd' ? getModelInfo(model).trainingDefaults : undefined;
}

/**
 * Fills in the defaults of every setting not given (undefined counts as not given): the
 * model family's own where it has them, else the library's.
 */
export function resolveRunConfig(input: RunConfigInput): RunConfig {
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as RunConfigInput;
  const optimizer = given.optimizer ?? trainingDefaults.optimizer;
  const family = familyTrainingDefaults(input.model, optimizer);
  const base = { ...trainingDefaults, modelOptions: {}, ...(family?.nesterov === undefined ? {} : { nesterov: family.nesterov }), ...given };
  return {
    ...base,
    lr: given.lr ?? family?.lr ?? defaultLr(base.optimizer),
    weightDecay: given.weightDecay ?? defaultWeightDecay(base.optimizer),
    warmupEpochs: given.warmupEpochs ?? defaultWarmupEpochs(base.epochs, base.schedule),
  };
}

/**
 * The loader's normalisation for an embedding model: its own preprocessing, so training
 * feeds what embed() feeds. fresnet scales raw pixels inside its graph (mean 0 and std
 * 1/255 on the 0..1 scale leave the pixels at 0..255); arcface_torch's IResNet takes
 * (x / 255 - 0.5) / 0.5.
 */
function embeddingModelNormalization(model: EmbeddingModel): { mean: number[]; std: number[] } {
  const channels = model.preprocessing.inputSize[0];
  return model.preprocessing.normalize ?? { mean: new Array<number>(channels).fill(0), std: new Array<number>(channels).fill(1 / 255) };
}

/** Settings that do not change the result (speed and display). */
export interface SessionOptions {
  out: string;
  /** Continue the run in `out` from its state file. */
  resume?: boolean;
  /** Batches prepared ahead of the training step. */
  prefetch: number;
  shouldStop?: () => boolean;
  onStep?: (progress: StepProgress) => void;
  onEpoch?: (record: EpochRecord, isBest: boolean) => void;
  onEvaluate?: () => void;
  /** Notes for the user (data loaded, warnings). */
  log?: (line: string) => void;
  /** Activation checkpointing (model.setGradCheckpointing): less memory, the same result, more compute. */
  gradCheckpointing?: boolean | GradCheckpointingOptions;
  /** Train with channels-last convolution weights and batches (faster where oneDNN's NHWC kernels are: bench/README.md). */
  channelsLast?: boolean;
  /**
   * Activations in oneDNN's blocked layout through the training step (float32, models whose
   * every op runs on it: checkMkldnnTraining): true requires it, false trains dense (or
   * channels-last if asked), 'auto' (the default) uses it where it applies, and trains a
   * bf16 run channels-last (channelsLastByDefault). The log says which.
   */
  mkldnn?: boolean | 'auto';
  /** Pick libtorch's thread count from the batch size and the machine's load (chooseTrainingThreads) and log it. */
  autoThreads?: boolean;
  /** Train as one rank of the initialised process group (train.distributed.init): data-parallel, the batch size global. */
  dataParallel?: DataParallelOptions;
}

export interface SessionResult {
  result: TrainResult;
  run: RunDirectory;
  model: TrainableModel;
  /** An embedding run's loss head (class centres); the caller disposes it with the model. */
  head?: EmbeddingHead;
  data: PreparedData;
  config: RunConfig;
}

/**
 * A fresh run must not overwrite a run that can be resumed. A folder whose run ended
 * before its first checkpoint (config.json but no state) holds nothing to lose.
 */
function checkFreshRunDir(out: string): void {
  if (!existsSync(out)) return;
  if (readdirSync(out).includes(RUN_FILES.state)) {
    throw new Error(`${out} already holds a training run; continue it with --resume ${out}, or pick another --out`);
  }
}

function buildOptimizer(config: RunConfig, model: TrainableModel, head: EmbeddingHead | undefined): Optimizer {
  const groupsOf = (module: Module<never, unknown>) => paramGroupsFor(module, { weightDecay: config.weightDecay, noDecayOnNormAndBias: config.noDecayNormBias });
  // The class centres train with the same optimiser and weight decay, as arcface_torch's PartialFC.
  const groups = [...groupsOf(model), ...(head ? groupsOf(head) : [])];
  const eps = config.optimizerEps;
  const rmsprop = { lr: config.lr, weightDecay: config.weightDecay, momentum: config.momentum, alpha: config.rmspropAlpha, eps };
  switch (config.optimizer) {
    case 'sgd':
      return new SGD(groups, { lr: config.lr, momentum: config.momentum, nesterov: config.nesterov && config.momentum > 0 });
    case 'adamw':
      return new AdamW(groups, { lr: config.lr, weightDecay: config.weightDecay, eps });
    case 'rmsprop':
      return new RMSprop(groups, rmsprop);
    case 'rmsproptf':
      return new RMSpropTF(groups, rmsprop);
    case 'lamb':
      return new Lamb(groups, { lr: config.lr, weightDecay: config.weightDecay, eps });
    default:
      throw new Error(`unknown optimizer '${String(config.optimizer)}'; expected one of ${optimizerNames.join(', ')}`);
  }
}

/** Reads the config a run was started with. */
export function readSessionConfig(runDir: string): RunConfig {
  return readRunConfig<RunConfig>(runDir);
}

export async function runSession(input: RunConfigInput, options: SessionOptions): Promise<SessionResult> {
  const config = resolveRunConfig(input);
  const log = options.log ?? (() => {});
  if (!options.resume) checkFreshRunDir(options.out);
  getModelInfo(config.model); // an unknown name fails before the data is read
  if (config.precision !== undefined) checkPrecision(config.precision);
  if (config.loss && (config.mixup || config.cutmix)) {
    // Mixed batches train on soft targets over class logits; a loss head takes one identity per image.
    throw new Error(`--mixup and --cutmix train a classifier on soft targets; they do not apply with --loss ${config.loss}, which needs one identity per image`);
  }

  const data = await prepareData(config.data, { train: true, test: 'if-present' });
  if (options.shouldStop?.()) throw new Error('stopped before training started; nothing was written');
  log(data.description);
  const skipped = describeSkipped(data.skipped);
  if (skipped) log(`warning: ${skipped}`);
  if (data.classes.length === 1) {
    log(`warning: the data has a single class ('${data.classes[0]}'): every prediction is that class, so accuracy is 100% by construction and the model learns nothing useful`);
  }
  const trainSize = data.train!.length;
  if (config.batchSize > trainSize) {
    log(`warning: batch size ${config.batchSize} is larger than the ${trainSize} training images; using batches of ${trainSize}`);
  }

  if (options.autoThreads) {
    const [, height, width] = data.inputShape;
    const choice = chooseTrainingThreads({ batchSize: Math.min(config.batchSize, trainSize), height, width });
    setNumThreads(choice.threads);
    log(`threads: ${getNumThreads()} (${choice.reason}; --threads sets it)`);
  }
  manualSeed(config.seed);
  const [channels] = data.inputShape;
  const modelOptions = config.loss
    ? { ...config.modelOptions, ...embeddingModelOptions(config.model, config.embeddingSize ?? 512, channels) }
    : { ...config.modelOptions, numClasses: data.classes.length, inChans: channels };
  // Margin training takes any model whose output is the embedding: an embedding family, or a classifier whose last layer makes it.
  const buildModel = (): TrainableModel => (config.loss ? (createModelByName(config.model, modelOptions) as TrainableModel) : createClassifierByName(config.model, modelOptions));
  const model = buildModel();
  const parallel = options.dataParallel ? new DataParallelRun({ ...options.dataParallel, syncBatchNorm: config.syncBatchNorm }) : undefined;
  let head: EmbeddingHead | undefined;
  let optimizer: Optimizer;
  let mkldnn = false;
  let channelsLast = false;
  let ema: ModelEma | undefined;
  try {
    if ((config.weights || config.freeze) && !(model instanceof ImageClassifier)) {
      throw new Error(`--weights and --freeze fine-tune classifiers; ${config.model} is an embedding model (load its weights with the embed and verify commands)`);
    }
    // A resumed run's state file holds the weights; the checkpoint is read on the first start only.
    if (config.weights && !options.resume) for (const line of loadPretrainedFile(model as ImageClassifier, config.weights)) log(line);
    if (config.freeze) log(`--freeze: training the classifier only (${freezeAllButClassifier(model as ImageClassifier).toLocaleString('en-US')} parameters frozen)`);
    if (options.gradCheckpointing) {
      if (!(model instanceof ImageClassifier)) throw new Error(`${config.model}: activation checkpointing (--checkpoint-activations) applies to image classifiers only`);
      model.setGradCheckpointing(options.gradCheckpointing);
    }
    if (parallel && config.syncBatchNorm && options.gradCheckpointing) {
      // A checkpointed segment recomputes its batch norm with the per-rank statistics (nn/batchnorm.ts), which would not match the forward pass.
      throw new Error('--sync-bn does not combine with --checkpoint-activations: the recomputed segments would normalise with per-rank statistics');
    }
    if (parallel?.prepareModel(model)) log(`--sync-bn: batch statistics over the global batch of ${parallel.worldSize} ranks`);
    const layoutSettings = {
      mkldnn: options.mkldnn ?? 'auto',
      channelsLast: options.channelsLast ?? false,
      precision: config.precision ?? 'fp32',
      gradCheckpointing: Boolean(options.gradCheckpointing),
      syncBatchNorm: Boolean(parallel && config.syncBatchNorm),
    };
    // Before the optimizer and the average take the weights; chooseTrainingLayout below decides the same way.
    if (layoutSettings.channelsLast || channelsLastByDefault(layoutSettings)) convWeightsToChannelsLast_(model);
    head = config.loss ? createEmbeddingHead(config.loss, data.classes.length, config.embeddingSize ?? 512, config.margin) : undefined;
    optimizer = buildOptimizer(config, model, head);
    // The average is of the model alone (an embedding run's class centres are not averaged) and is evaluated with the same head.
    ema = config.modelEma ? new ModelEma(model, buildModel(), { decay: config.modelEmaDecay }) : undefined;
    // Last of the set-up: its probe draws random numbers, after everything whose initialisation a seed fixes.
    const layout = chooseTrainingLayout(layoutSettings, buildModel, data.inputShape);
    mkldnn = layout.mkldnn;
    channelsLast = layout.channelsLast;
    log(layout.note);
  } catch (error) {
    model.dispose();
    head?.dispose();
    ema?.dispose();
    throw error;
  }
  try {
    // The layout chosen above, resolved: the loop needs a yes or no.
    const result = await trainModel(config, { ...options, mkldnn, channelsLast }, data, model, optimizer, modelOptions, head, ema, parallel);
    return { ...result, model, head, data, config };
  } catch (error) {
    model.dispose();
    head?.dispose();
    throw error;
  } finally {
    optimizer.disposeState();
    ema?.dispose();
  }
}

/** Opens the run directory (fresh or resumed) and runs the loop over `model`. */
async function trainModel(
  config: RunConfig,
  options: SessionOptions,
  data: PreparedData,
  model: TrainableModel,
  optimizer: Optimizer,
  modelOptions: Record<string, unknown>,
  head: EmbeddingHead | undefined,
  ema: ModelEma | undefined,
  parallel?: DataParallelRun,
): Promise<{ result: TrainResult; run: RunDirectory }> {
  // Only rank 0 of a data-parallel run speaks and writes.
  const writer = parallel?.isWriter ?? true;
  const log = writer ? (options.log ?? (() => {})) : () => {};
  const normalization = model instanceof EmbeddingModel ? embeddingModelNormalization(model) : normalizationFor(data);
  const rankBatch = parallel ? parallel.perRankBatchSize(config.batchSize) : config.batchSize;
  const loaderSettings = { batchSize: rankBatch, seed: config.seed, augment: config.augment, recipe: config.recipe, prefetch: options.prefetch, normalization };
  const trainData = trainLoader(data, { ...loaderSettings, shard: parallel?.trainShard });
  const testData = data.test ? testLoader(data, { ...loaderSettings, shard: parallel?.testShard }) : undefined;

  const schedule = scheduleFromSpec(
    {
      name: config.schedule,
      lr: config.lr,
      epochs: config.epochs,
      stepEpochs: config.stepEpochs,
      milestones: config.milestones,
      gamma: config.gamma,
      warmupEpochs: config.warmupEpochs,
      minLr: config.minLr,
      oneCycle: config.oneCycle,
      plateau: config.plateau,
      plateauMode: config.monitor === 'accuracy' ? 'max' : 'min',
    },
    trainData.numBatches(),
  );
  const numClasses = data.classes.length;
  const mixup = config.mixup || config.cutmix
    ? new Mixup({ mixupAlpha: config.mixup, cutmixAlpha: config.cutmix, prob: config.mixupProb, switchProb: config.mixupSwitchProb, labelSmoothing: config.labelSmoothing, numClasses })
    : undefined;
  const earlyStopping = config.earlyStopping !== undefined
    ? new EarlyStopping({ patience: config.earlyStopping, minDelta: config.earlyStoppingDelta, mode: config.monitor === 'accuracy' ? 'max' : 'min' })
    : undefined;

  const cropPct = data.kind === 'image-folder' && !data.aligned ? FOLDER_CROP_PCT : 1;
  const embedding = head ? { embeddingSize: head.embeddingSize, loss: config.loss } : {};
  const weightsInfo: WeightsInfo = { model: config.model, modelOptions, classes: data.classes, inputShape: data.inputShape, ...normalization, cropPct, ...embedding };
  const title = `${config.model} on ${dataTitle(config.data.data)}${head ? `, ${head.describe()}` : ''}`;
  const run = new RunDirectory(options.out, weightsInfo, title, head);
  let resumeFrom: TrainingState | undefined;
  if (options.resume) {
    resumeFrom = run.loadState(model, optimizer, ema?.module);
    checkResumeWorldSize(resumeFrom, parallel?.worldSize ?? 1, run.path);
    const batches = trainData.numBatches();
    if (resumeFrom.batch >= batches || resumeFrom.iteration !== resumeFrom.epoch * batches + resumeFrom.batch) {
      throw new Error(
        `${run.file('state')} says step ${resumeFrom.iteration} is batch ${resumeFrom.batch} of epoch ${resumeFrom.epoch + 1}, which does not fit ${batches} batches per epoch: ` +
          'the state file is damaged or the training data changed since it was written',
      );
    }
    if (resumeFrom.epoch >= config.epochs) {
      throw new Error(`the run in ${run.path} has already finished its ${count(resumeFrom.epoch, 'epoch')}; add --epochs N (more than ${resumeFrom.epoch}) to train it further`);
    }
    if (writer) run.truncateMetrics(resumeFrom.epoch);
    if (writer) run.writeConfig(config); // --epochs may have changed
    log(`resuming ${run.path} at epoch ${resumeFrom.epoch + 1}, batch ${resumeFrom.batch} of ${trainData.numBatches()} (step ${resumeFrom.iteration})`);
  } else if (writer) {
    run.writeConfig(config);
    writeFileAtomic(run.file('classes'), new TextEncoder().encode(`${JSON.stringify(data.classes)}\n`));
  }
  if (head) log(`loss: ${head.describe()} over ${head.embeddingSize}-d embeddings, ${head.numClasses} class centres (saved as ${RUN_FILES.head})`);
  log(`${config.model}: ${model.countParameters().toLocaleString('en-US')} parameters; ${count(trainData.numBatches(), 'step')} per epoch; ${schedule.description}`);
  if (config.precision === 'bf16') {
    const cpu = cpuFeatures();
    log(`precision: bf16 (convolutions and matmuls in bfloat16 under autocast; weights, optimizer state, norms and the loss in float32)`);
    if (!cpu.bf16) log(`warning: this CPU (${cpu.model}) has no AVX512-BF16 or AMX: bfloat16 convolutions are emulated and will be slower than fp32`);
  }
  const family = familyTrainingDefaults(config.model, config.optimizer);
  if (family) log(`${getModelInfo(config.model).architecture} trains with its own SGD defaults where a setting is left out: ${describeTrainingDefaults(family)} (${family.source})`);
  const trainImages = data.train!.length;
  const batchSize = Math.min(config.batchSize, trainImages);
  const leftOver = trainImages % batchSize;
  if (leftOver > 0) {
    log(`note: ${count(leftOver, 'training image')} of ${trainImages} do not fill a last batch of ${batchSize} and are left out of each epoch (different ones each epoch, as the order is shuffled)`);
  }

  if (parallel) log(`data-parallel: ${parallel.worldSize} rank${parallel.worldSize === 1 ? '' : 's'}, ${rankBatch} images each per step (global batch ${config.batchSize})`);
  const stepModel = parallel?.wrap(model);
  const fresh = { ...initialState(config.seed), ...(parallel && parallel.worldSize > 1 ? { worldSize: parallel.worldSize } : {}) };
  const result = await train({
    model,
    stepModel,
    ranks: parallel?.ranks,
    optimizer,
    schedule,
    trainData,
    testData,
    epochs: config.epochs,
    numClasses,
    seed: config.seed,
    labelSmoothing: config.labelSmoothing,
    mixup,
    ema,
    earlyStopping,
    monitor: config.monitor,
    loss: head?.lossFunction(),
    clipGradNorm: config.clipGradNorm,
    precision: config.precision,
    channelsLast: options.channelsLast,
    mkldnn: options.mkldnn === true,
    run: writer ? run : undefined,
    resumeFrom: resumeFrom ?? fresh,
    shouldStop: options.shouldStop,
    onStep: options.onStep,
    onEvaluate: options.onEvaluate,
    onEpoch: (record, _evaluation, isBest) => options.onEpoch?.(record, isBest),
  }).finally(() => stepModel?.dispose());
  return { result, run };
}

/** The config of a run in `runDir`, for --resume: the saved settings, with `epochs` optionally changed. */
export function resumeConfig(runDir: string, overrides: { epochs?: number } = {}): RunConfig {
  const config = readSessionConfig(runDir);
  return overrides.epochs === undefined ? config : { ...config, epochs: overrides.epochs };
}
