// One training run from a plain config: load the data, build the model, optimiser and
// schedule, open the run directory (fresh or resumed) and run the loop. The train and
// demo commands are thin shells around this.
import { existsSync, readdirSync } from 'node:fs';
import { createClassifierByName, createModelByName, getModelInfo } from '../models/index.js';
import { EmbeddingModel } from '../models/embedding.js';

/** What a run trains: a classifier, or (with a loss head) an embedding model. */
export type TrainableModel = ImageClassifier | EmbeddingModel;
import type { ImageClassifier } from '../models/classifier.js';
import { writeFileAtomic } from '../io/atomic.js';
import { manualSeed } from '../torch/runtime.js';
import { RunDirectory, readRunConfig, RUN_FILES, type TrainingState, type WeightsInfo } from './checkpoint.js';
import { describeSkipped, FOLDER_CROP_PCT, normalizationFor, prepareData, testLoader, trainLoader, type DataSpec, type PreparedData } from './data-setup.js';
import { initialState, train, type EpochRecord, type StepProgress, type TrainResult } from './loop.js';
import { AdamW } from './optim/adamw.js';
import { paramGroupsFor } from './optim/groups.js';
import type { Optimizer } from './optim/optimizer.js';
import { SGD } from './optim/sgd.js';
import { scheduleFromSpec, type ScheduleName } from './schedule.js';
import { createEmbeddingHead, type EmbeddingHead, type EmbeddingLossName } from './losses/embedding-heads.js';
import type { MarginSpec } from './losses/margin.js';
import { embeddingModelOptions } from './embedding-setup.js';
import type { Module } from '../nn/module.js';

export type OptimizerName = 'sgd' | 'adamw';
export const optimizerNames: OptimizerName[] = ['sgd', 'adamw'];

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
  /**
   * Embedding training: the model's output is an embedding of `embeddingSize` and the
   * loss is this head over it, with one class centre per identity (absent: a classifier
   * trained with cross-entropy on its logits).
   */
  loss?: EmbeddingLossName;
  embeddingSize?: number;
  /** Margin settings that differ from InsightFace's defaults for `loss` (s, m1, m2, m3). */
  margin?: Partial<MarginSpec>;
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

/** Peak learning rate: 0.1 for SGD, 0.001 for AdamW. */
export const defaultLr = (optimizer: OptimizerName): number => (optimizer === 'adamw' ? 1e-3 : 0.1);
/** L2 weight decay 5e-4 for SGD, decoupled 0.05 for AdamW. */
export const defaultWeightDecay = (optimizer: OptimizerName): number => (optimizer === 'adamw' ? 0.05 : 5e-4);
/** One epoch, or a fifth of a shorter run, so a short run is not all warm-up. */
export const defaultWarmupEpochs = (epochs: number): number => Math.min(1, epochs / 5);

/** Fills in the defaults of every setting not given (undefined counts as not given). */
export function resolveRunConfig(input: RunConfigInput): RunConfig {
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as RunConfigInput;
  const base = { ...trainingDefaults, modelOptions: {}, ...given };
  return {
    ...base,
    lr: given.lr ?? defaultLr(base.optimizer),
    weightDecay: given.weightDecay ?? defaultWeightDecay(base.optimizer),
    warmupEpochs: given.warmupEpochs ?? defaultWarmupEpochs(base.epochs),
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
  switch (config.optimizer) {
    case 'sgd':
      return new SGD(groups, { lr: config.lr, momentum: config.momentum, nesterov: config.nesterov && config.momentum > 0 });
    case 'adamw':
      return new AdamW(groups, { lr: config.lr, weightDecay: config.weightDecay });
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

  const data = await prepareData(config.data, { train: true, test: 'if-present' });
  if (options.shouldStop?.()) throw new Error('stopped before training started; nothing was written');
  log(data.description);
  const skipped = describeSkipped(data.skipped);
  if (skipped) log(`warning: ${skipped}`);
  const trainSize = data.train!.length;
  if (config.batchSize > trainSize) {
    log(`warning: batch size ${config.batchSize} is larger than the ${trainSize} training images; using batches of ${trainSize}`);
  }

  manualSeed(config.seed);
  const [channels] = data.inputShape;
  const modelOptions = config.loss
    ? { ...config.modelOptions, ...embeddingModelOptions(config.model, config.embeddingSize ?? 512, channels) }
    : { ...config.modelOptions, numClasses: data.classes.length, inChans: channels };
  // Margin training takes any model whose output is the embedding: an embedding family, or a classifier whose last layer makes it.
  const model = config.loss ? (createModelByName(config.model, modelOptions) as TrainableModel) : createClassifierByName(config.model, modelOptions);
  const head = config.loss ? createEmbeddingHead(config.loss, data.classes.length, config.embeddingSize ?? 512, config.margin) : undefined;
  const optimizer = buildOptimizer(config, model, head);
  try {
    const result = await trainModel(config, options, data, model, optimizer, modelOptions, head);
    return { ...result, model, head, data, config };
  } catch (error) {
    model.dispose();
    head?.dispose();
    throw error;
  } finally {
    optimizer.disposeState();
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
): Promise<{ result: TrainResult; run: RunDirectory }> {
  const log = options.log ?? (() => {});
  const normalization = model instanceof EmbeddingModel ? embeddingModelNormalization(model) : normalizationFor(data);
  const loaderSettings = { batchSize: config.batchSize, seed: config.seed, augment: config.augment, prefetch: options.prefetch, normalization };
  const trainData = trainLoader(data, loaderSettings);
  const testData = data.test ? testLoader(data, loaderSettings) : undefined;

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
    },
    trainData.numBatches(),
  );

  const cropPct = data.kind === 'image-folder' && !data.aligned ? FOLDER_CROP_PCT : 1;
  const embedding = head ? { embeddingSize: head.embeddingSize, loss: config.loss } : {};
  const weightsInfo: WeightsInfo = { model: config.model, modelOptions, classes: data.classes, inputShape: data.inputShape, ...normalization, cropPct, ...embedding };
  const dataName = config.data.data.toLowerCase() === 'fashion-mnist' ? 'Fashion-MNIST' : config.data.data;
  const title = `${config.model} on ${dataName}${head ? `, ${head.describe()}` : ''}`;
  const run = new RunDirectory(options.out, weightsInfo, title, head);
  let resumeFrom: TrainingState | undefined;
  if (options.resume) {
    resumeFrom = run.loadState(model, optimizer);
    if (resumeFrom.epoch >= config.epochs) {
      throw new Error(`the run in ${run.path} has already finished its ${resumeFrom.epoch} epochs; add --epochs N (more than ${resumeFrom.epoch}) to train it further`);
    }
    run.truncateMetrics(resumeFrom.epoch);
    run.writeConfig(config); // --epochs may have changed
    log(`resuming ${run.path} at epoch ${resumeFrom.epoch + 1}, batch ${resumeFrom.batch} of ${trainData.numBatches()} (step ${resumeFrom.iteration})`);
  } else {
    run.writeConfig(config);
    writeFileAtomic(run.file('classes'), new TextEncoder().encode(`${JSON.stringify(data.classes)}\n`));
  }
  if (head) log(`loss: ${head.describe()} over ${head.embeddingSize}-d embeddings, ${head.numClasses} class centres (saved as ${RUN_FILES.head})`);
  log(`${config.model}: ${model.countParameters().toLocaleString('en-US')} parameters; ${trainData.numBatches()} step${trainData.numBatches() === 1 ? '' : 's'} per epoch; ${schedule.description}`);

  const result = await train({
    model,
    optimizer,
    schedule,
    trainData,
    testData,
    epochs: config.epochs,
    numClasses: data.classes.length,
    seed: config.seed,
    labelSmoothing: config.labelSmoothing,
    loss: head?.lossFunction(),
    clipGradNorm: config.clipGradNorm,
    run,
    resumeFrom: resumeFrom ?? initialState(config.seed),
    shouldStop: options.shouldStop,
    onStep: options.onStep,
    onEvaluate: options.onEvaluate,
    onEpoch: (record, _evaluation, isBest) => options.onEpoch?.(record, isBest),
  });
  return { result, run };
}

/** The config of a run in `runDir`, for --resume: the saved settings, with `epochs` optionally changed. */
export function resumeConfig(runDir: string, overrides: { epochs?: number } = {}): RunConfig {
  const config = readSessionConfig(runDir);
  return overrides.epochs === undefined ? config : { ...config, epochs: overrides.epochs };
}
