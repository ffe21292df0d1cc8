// The `train` namespace: optimisers, schedules, the training loop, evaluation, metrics,
// run directories with exact resume, and the curves chart.
export * from './optim/index.js';
export {
  constantSchedule,
  cosineSchedule,
  multiStepSchedule,
  scheduleFromSpec,
  scheduleNames,
  stepSchedule,
  withWarmup,
  type Schedule,
  type ScheduleName,
  type ScheduleSpec,
} from './schedule.js';
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
  optimizerNames,
  type OptimizerName,
  type RunConfig,
  type RunConfigInput,
  type SessionOptions,
  type SessionResult,
} from './session.js';
export { trainingStep, crossEntropyLoss, type LossFunction, type TrainingStepOptions, type TrainingStepResult } from './step.js';
export { prepareData, trainLoader, testLoader, normalizationFor, type DataSpec, type PreparedData, type LoaderSettings } from './data-setup.js';
export { loadInto, loadTrainedModel, trainedWeightsInfo, type TrainedModel } from './trained-model.js';
