// The `train` namespace: optimisers, schedules, the training loop, evaluation, metrics,
// run directories with exact resume, and the curves chart.
export * from './optim/index.js';
export {
  constantSchedule,
  cosineSchedule,
  multiStepSchedule,
  oneCycleSchedule,
  scheduleFromSpec,
  scheduleNames,
  stepSchedule,
  withWarmup,
  type OneCycleOptions,
  type OneCycleShape,
  type Schedule,
  type ScheduleName,
  type ScheduleSpec,
} from './schedule.js';
export { ReduceLROnPlateau, type PlateauOptions, type PlateauShape, type PlateauState } from './plateau.js';
export { EarlyStopping, type EarlyStoppingOptions, type EarlyStoppingState } from './early-stopping.js';
export { Mixup, cutmixBox, smoothedOneHot, mixupRandom, type MixedBatch, type MixupOptions } from './mixup.js';
export { softTargetCrossEntropy } from './losses.js';
export { ModelEma, type ModelEmaOptions } from './ema.js';
export { train, initialState, NonFiniteLossError, type EpochRecord, type StepProgress, type TrainOptions, type TrainResult } from './loop.js';
export { evaluate, predictProbabilities, type Batch, type BatchSource, type EvalOptions, type EvalResult } from './evaluate.js';
export { ConfusionMatrix, topKCorrect } from './metrics.js';
export { RunDirectory, RUN_FILES, readMetricsFile, readRunConfig, readWeightsInfo, type TrainingState, type WeightsInfo } from './checkpoint.js';
export { renderCurves, niceTicks, type CurvePoint } from './curves.js';
export {
  runSession,
  readSessionConfig,
  resumeConfig,
  resolveRunConfig,
  trainingDefaults,
  defaultLr,
  defaultWeightDecay,
  defaultWarmupEpochs,
  optimizerDefaults,
  optimizerNames,
  type OptimizerName,
  type RunConfig,
  type RunConfigInput,
  type SessionOptions,
  type SessionResult,
} from './session.js';
export { trainingStep, crossEntropyLoss, forwardAndLoss, checkForwardSettings, checkPrecision, trainingPrecisions, type ForwardSettings, type LossFunction, type TrainingPrecision, type TrainingStepOptions, type TrainingStepResult } from './step.js';
export {
  prepareData,
  trainLoader,
  testLoader,
  trainTransform,
  trainTensorTransform,
  normalizationFor,
  builtinDataNames,
  type AugmentRecipe,
  type BuiltinDataName,
  type DataSpec,
  type PreparedData,
  type LoaderSettings,
} from './data-setup.js';
export { loadInto, loadTrainedModel, trainedWeightsInfo, type TrainedModel } from './trained-model.js';
export { checkpointNumClasses, classifierWeightKey, freezeAllButClassifier, loadPretrained, loadPretrainedFile, readCheckpoint } from './pretrained.js';
export { checkMkldnnTraining, MkldnnTrainingUnsupported } from './mkldnn-check.js';
export * as distributed from './distributed/index.js';
