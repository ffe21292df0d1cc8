// The `tools` namespace: model summaries, graph capture, diagrams, ONNX export, inference speed-ups and benchmarks.
export { summarize, formatSummary, formatMacs, type LayerSummary, type ModelSummary } from './summary.js';
export { measureTrainingMemory, formatTrainingMemory, type StepMemory, type TrainingMemory } from './training-memory.js';
export {
  prepareForInference,
  checkedInferenceModel,
  fastestFaithfulModel,
  modeName,
  MODES_FASTEST_FIRST,
  DEFAULT_TOLERANCE,
  BF16_TOLERANCE,
  PRECISIONS,
  top1Agreement,
  type InferenceMode,
  type Precision,
  type Layout,
  type CheckedModel,
} from './inference-modes.js';
export { DnnlInference, dnnlCpuInfo, type DnnlOptions, type PlanTuning } from './dnnl/inference.js';
export { lowerGraph, type ConvAlgorithm, type LowerOptions } from './dnnl/lower.js';
export { benchmarkInference, relativeDifference, type InferenceBenchOptions, type InferenceBenchResult } from './bench.js';
export { cpuModel, flopsPerImage, formatPeakFractions, fractionOfPeak, measureMatmulPeak, peakFractions, resolvePeak, PEAK_DTYPES, type MatmulPeak, type Peak, type PeakDtype, type PeakFractions, type RooflineReport } from './roofline.js';
export { InferenceWorker, type InferenceWorkerOptions } from './inference-worker.js';
export { captureGraph, disposeGraph, type ModelGraph, type GraphOp, type GraphValue, type ArgValue, type CaptureOptions } from './graph/capture.js';
export { OPS, type OpCategory, type OpInfo } from './graph/ops.js';
export { plot, savePlot, modelDot, renderDot, svgToPng, plotFormatOf, type PlotOptions, type PlotFormat } from './plot/plot.js';
export { DEPTHS, type Depth } from './plot/structure.js';
export { exportOnnx, saveOnnx, graphToOnnx, DEFAULT_OPSET, MIN_OPSET, MAX_OPSET, type OnnxExportOptions } from './onnx/export.js';
