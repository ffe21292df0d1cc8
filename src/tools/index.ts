// The `tools` namespace: model summaries, inference speed-ups and benchmarks.
export { summarize, formatSummary, formatMacs, type LayerSummary, type ModelSummary } from './summary.js';
export { measureTrainingMemory, formatTrainingMemory, type StepMemory, type TrainingMemory } from './training-memory.js';
export {
  prepareForInference,
  checkedInferenceModel,
  fastestFaithfulModel,
  modeName,
  MODES_FASTEST_FIRST,
  DEFAULT_TOLERANCE,
  type InferenceMode,
  type Layout,
  type CheckedModel,
} from './inference-modes.js';
export { benchmarkInference, relativeDifference, type InferenceBenchOptions, type InferenceBenchResult } from './bench.js';
export { InferenceWorker, type InferenceWorkerOptions } from './inference-worker.js';
