// The training loop: epochs of steps over a batch source, evaluation after each epoch,
// checkpoints and metrics into a run directory, exact resume, and a clean stop.
//
// Exactness: the data order and augmentation depend only on (seed, epoch, index), the
// learning rate and momentum only on the iteration (and the plateau counters, which are
// saved), mixup's draws on (seed, iteration), and every step reseeds libtorch's generator
// from (seed, iteration); so a run stopped after any step and resumed from its state file
// (model, optimiser and EMA tensors included) makes the same updates as one that never
// stopped.
import type { Module } from '../nn/module.js';
import { manualSeed } from '../torch/runtime.js';
import { dispose } from '../torch/scope.js';
import type { RunDirectory, TrainingState } from './checkpoint.js';
import type { EarlyStopping } from './early-stopping.js';
import type { ModelEma } from './ema.js';
import { evaluate, type BatchSource, type EvalResult } from './evaluate.js';
import { softTargetCrossEntropy } from './losses.js';
import { mixupRandom, type Mixup } from './mixup.js';
import type { Optimizer } from './optim/optimizer.js';
import type { Schedule } from './schedule.js';
import { crossEntropyLoss, trainingStep, type LossFunction, type TrainingPrecision } from './step.js';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss?: number;
  testAccuracy?: number;
  testTop5?: number;
  /** The same for the weights' moving average (runs with model EMA and test data). */
  emaTestLoss?: number;
  emaTestAccuracy?: number;
  emaTestTop5?: number;
  /** The learning rate of the epoch's last step. */
  lr: number;
  /** Wall time of the epoch: training and evaluation. */
  seconds: number;
  trainImagesPerSecond: number;
}

export interface StepProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  iteration: number;
  lr: number;
  /** Running means over the epoch so far. */
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  /** Estimated seconds to the end of training (evaluation included by the last epoch's share). */
  etaSeconds: number;
}

/**
 * What a data-parallel run's ranks agree on (train/distributed/ makes one): every rank
 * calls these at the same points and gets the same answer.
 */
export interface RankSync {
  /** Element-wise sums over the ranks. */
  sum(values: number[]): number[];
  /** The whole test set's figures from each rank's evaluation of its shard. */
  combineEvaluation(result: EvalResult): EvalResult;
}

export interface TrainOptions {
  model: Module;
  /** The module the training step calls: a DistributedDataParallel over `model` in a data-parallel run (default `model`). */
  stepModel?: Module;
  /** Data-parallel runs: the step figures, evaluation and the decision to stop are combined over the ranks. */
  ranks?: RankSync;
  optimizer: Optimizer;
  schedule: Schedule;
  trainData: BatchSource;
  testData?: BatchSource;
  epochs: number;
  numClasses: number;
  /** Seeds the per-step generator (dropout, drop-path); the data order has its own seed in the loader. */
  seed: number;
  /** The training loss; default cross-entropy with `labelSmoothing`. With mixup the soft-target cross-entropy replaces it. */
  loss?: LossFunction;
  /** Label smoothing of the default loss (with mixup it is folded into the mixed targets). */
  labelSmoothing?: number;
  /** Mix every batch (mixup / CutMix) and train on the soft targets; training accuracy then counts each image's own label. */
  mixup?: Mixup;
  /** Updated after every optimiser step; evaluated after every epoch and saved as ema.safetensors. */
  ema?: ModelEma;
  /** Decides after each epoch whether to stop, from the monitored metric. */
  earlyStopping?: EarlyStopping;
  /** What reduce-on-plateau and early stopping watch: the test loss or accuracy (training's without test data). Default 'loss'. */
  monitor?: 'loss' | 'accuracy';
  /** Clip the gradients' joint 2-norm to this before each update. */
  clipGradNorm?: number;
  /** 'bf16': mixed-precision forward passes (weights, optimizer state and norms stay float32); default 'fp32'. */
  precision?: TrainingPrecision;
  /** Channels-last batches, for a model whose convolution weights are channels-last (convWeightsToChannelsLast_). */
  channelsLast?: boolean;
  /** Batches in oneDNN's blocked layout (ForwardSettings.mkldnn). */
  mkldnn?: boolean;
  /** Where metrics, checkpoints and curves go; without it nothing is written. */
  run?: RunDirectory;
  /** Continue from this point (the model and optimizer already hold its tensors). */
  resumeFrom?: TrainingState;
  /** Checked after every step: true stops the run with a resumable checkpoint. */
  shouldStop?: () => boolean;
  onStep?: (progress: StepProgress) => void;
  /** `isBest`: the epoch's score (test accuracy, else training accuracy) beats every earlier epoch's. */
  onEpoch?: (record: EpochRecord, evaluation: EvalResult | undefined, isBest: boolean) => void;
  onEvaluate?: (epoch: number) => void;
}

export interface TrainResult {
  /** 'early-stopped': the monitored metric stopped improving (state.earlyStoppedAt says when). */
  status: 'completed' | 'stopped' | 'early-stopped';
  /** Epoch records of this call (a resumed run reports only the epochs it finished). */
  records: EpochRecord[];
  state: TrainingState;
}

/** The loss became NaN or infinite: training stops before applying that step's update. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly iteration: number,
    readonly epoch: number,
    readonly lr: number,
    readonly loss: number,
    readonly checkpoint: string | undefined,
  ) {
    super(
      `loss became ${Number.isNaN(loss) ? 'NaN' : loss > 0 ? 'Infinity' : '-Infinity'} at step ${iteration + 1} (epoch ${epoch + 1}, lr ${lr}); ` +
        (checkpoint ? `last good checkpoint kept at ${checkpoint}` : 'no checkpoint had been written yet') +
        '. Try a lower --lr, a warm-up (--warmup-epochs) or --clip-grad-norm.',
    );
    this.name = 'NonFiniteLossError';
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A generator seed from the run seed and the iteration (a 32-bit mix, so nearby pairs differ). */
function stepSeed(seed: number, iteration: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(iteration + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export function initialState(seed: number): TrainingState {
  return { epoch: 0, batch: 0, iteration: 0, bestAccuracy: -1, bestEpoch: 0, seed, partial: { lossSum: 0, correct: 0, seen: 0, seconds: 0 } };
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { model, optimizer, schedule, trainData, epochs, run } = options;
  const state: TrainingState = structuredClone(options.resumeFrom ?? initialState(options.seed));
  const params = optimizer.paramGroups.flatMap((group) => group.params);
  const loss = options.loss ?? crossEntropyLoss({ labelSmoothing: options.labelSmoothing ?? 0 });
  const batches = trainData.numBatches();
  if (batches === 0) throw new Error('the training data gives no batches (is the batch size larger than the data with dropLast?)');
  const records: EpochRecord[] = [];
  let lastEvalSeconds = 0;
  const { mixup, ema, earlyStopping } = options;
  if (state.plateau && schedule.plateau) schedule.plateau.loadStateDict(state.plateau);
  if (state.earlyStopping && earlyStopping) earlyStopping.loadStateDict(state.earlyStopping);
  if (state.earlyStoppedAt !== undefined) {
    throw new Error(`early stopping ended this run after epoch ${state.earlyStoppedAt}; there is nothing left to resume`);
  }
  model.train();
  const combine = (values: number[]) => options.ranks?.sum(values) ?? values;
  // One decision for every rank: any rank asked to stop.
  const stopRequested = () => combine([options.shouldStop?.() ? 1 : 0])[0] > 0;
  const evaluateAll = async (module: Module) => {
    const result = await evaluate(module, options.testData!, { numClasses: options.numClasses, loss: options.loss });
    return options.ranks ? options.ranks.combineEvaluation(result) : result;
  };

  for (; state.epoch < epochs; state.epoch++, state.batch = 0) {
    const epoch = state.epoch;
    const epochStarted = performance.now() - state.partial.seconds * 1000;
    const sessionStarted = performance.now();
    let sessionImages = 0;
    let lr = schedule.lrAt(state.iteration);
    for await (const batch of trainData.batches(epoch, { startBatch: state.batch })) {
      let outcome: { loss: number; correct: number };
      const size = batch.labels.size(0);
      try {
        lr = schedule.lrAt(state.iteration);
        optimizer.setLr(lr);
        if (schedule.momentumAt) optimizer.setMomentum(schedule.momentumAt(state.iteration));
        manualSeed(stepSeed(state.seed, state.iteration));
        const step = { model: options.stepModel ?? model, optimizer, labels: batch.labels, clipGradNorm: options.clipGradNorm, params, precision: options.precision, channelsLast: options.channelsLast, mkldnn: options.mkldnn };
        if (mixup) {
          // The batch is mixed before the step: the loss takes the soft targets, the accuracy each image's own label.
          const mixed = mixup.apply(batch.images, batch.labels, mixupRandom(state.seed, state.iteration));
          try {
            outcome = trainingStep({ ...step, images: mixed.images, loss: (output) => softTargetCrossEntropy(output, mixed.targets) });
          } finally {
            dispose(mixed);
          }
        } else {
          outcome = trainingStep({ ...step, images: batch.images, loss });
        }
        if (Number.isFinite(outcome.loss)) ema?.update(model);
      } finally {
        batch.images.dispose();
        batch.labels.dispose();
      }
      if (!Number.isFinite(outcome.loss)) {
        throw new NonFiniteLossError(state.iteration, epoch, lr, outcome.loss, run?.hasLast() ? run.lastPath : undefined);
      }
      // The figures of the global batch (a data-parallel run's ranks add theirs up).
      const [lossSum, correct, seen] = combine([outcome.loss * size, outcome.correct, size]);
      state.iteration++;
      state.batch++;
      state.partial.lossSum += lossSum;
      state.partial.correct += correct;
      state.partial.seen += seen;
      sessionImages += seen;
      const now = performance.now();
      state.partial.seconds = (now - epochStarted) / 1000;
      if (options.onStep) {
        const imagesPerSecond = sessionImages / Math.max(1e-9, (now - sessionStarted) / 1000);
        const secondsPerBatch = (now - sessionStarted) / 1000 / Math.max(1, sessionImages / seen);
        const remainingBatches = batches - state.batch + (epochs - epoch - 1) * batches;
        const evalShare = lastEvalSeconds * (epochs - epoch);
        options.onStep({
          epoch,
          epochs,
          batch: state.batch,
          batches,
          iteration: state.iteration,
          lr,
          loss: state.partial.lossSum / state.partial.seen,
          accuracy: state.partial.correct / state.partial.seen,
          imagesPerSecond,
          etaSeconds: remainingBatches * secondsPerBatch + evalShare,
        });
      }
      // A turn of the event loop, so a Ctrl-C that arrived during the step is seen now
      // rather than when the epoch's batches run out (they are often all read ahead).
      await yieldToEventLoop();
      if (stopRequested() && state.batch < batches) {
        if (run) run.saveState(model, optimizer, state, ema?.module);
        return { status: 'stopped', records, state };
      }
    }

    options.onEvaluate?.(epoch);
    const evaluation = options.testData ? await evaluateAll(model) : undefined;
    const emaEvaluation = ema && options.testData ? await evaluateAll(ema.module) : undefined;
    model.train();
    const seconds = (performance.now() - epochStarted) / 1000;
    const evalSeconds = (evaluation?.seconds ?? 0) + (emaEvaluation?.seconds ?? 0);
    lastEvalSeconds = evalSeconds;
    const record: EpochRecord = {
      epoch: epoch + 1,
      trainLoss: state.partial.lossSum / state.partial.seen,
      trainAccuracy: state.partial.correct / state.partial.seen,
      ...(evaluation ? { testLoss: evaluation.loss, testAccuracy: evaluation.top1, testTop5: evaluation.top5 } : {}),
      ...(emaEvaluation ? { emaTestLoss: emaEvaluation.loss, emaTestAccuracy: emaEvaluation.top1, emaTestTop5: emaEvaluation.top5 } : {}),
      lr,
      seconds,
      trainImagesPerSecond: state.partial.seen / Math.max(1e-9, seconds - evalSeconds),
    };
    records.push(record);
    const score = record.testAccuracy ?? record.trainAccuracy;
    const isBest = score > state.bestAccuracy;
    if (isBest) {
      state.bestAccuracy = score;
      state.bestEpoch = epoch + 1;
    }
    // The monitored metric moves the plateau schedule and early stopping before the state is saved.
    const monitored = options.monitor === 'accuracy' ? score : (record.testLoss ?? record.trainLoss);
    if (schedule.plateau) {
      schedule.plateau.step(monitored);
      state.plateau = schedule.plateau.stateDict();
    }
    let stopEarly = false;
    if (earlyStopping) {
      stopEarly = earlyStopping.update(monitored, epoch + 1) && epoch + 1 < epochs;
      state.earlyStopping = earlyStopping.stateDict();
      if (stopEarly) state.earlyStoppedAt = epoch + 1;
    }
    const next: TrainingState = { ...state, epoch: epoch + 1, batch: 0, partial: { lossSum: 0, correct: 0, seen: 0, seconds: 0 } };
    if (run) {
      run.checkWeights(model);
      run.appendMetrics(record);
      run.saveWeights('last', model, record);
      if (isBest) run.saveWeights('best', model, record);
      if (ema) run.saveWeights('ema', ema.module, record);
      run.saveState(model, optimizer, next, ema?.module);
      run.writeCurves();
    }
    state.partial = next.partial;
    options.onEpoch?.(record, evaluation, isBest);
    if (stopEarly) return { status: 'early-stopped', records, state: { ...next } };
    if (stopRequested() && epoch + 1 < epochs) {
      return { status: 'stopped', records, state: { ...next } };
    }
  }
  return { status: 'completed', records, state };
}
