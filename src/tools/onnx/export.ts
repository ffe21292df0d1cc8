// ONNX export: the captured graph of a real forward pass, converted op by op, with the
// parameters as initializers under their state-dict keys.
import { writeFileAtomic } from '../../io/atomic.js';
import { fuseForInference } from '../../models/fuse.js';
import type { Module } from '../../nn/module.js';
import type { Tensor } from '../../torch/tensor.js';
import { captureGraph, disposeGraph, type ModelGraph } from '../graph/capture.js';
import { onnx, OnnxGraphBuilder } from './builder.js';
import { CONVERTERS } from './converters.js';

export const MIN_OPSET = 13;
export const MAX_OPSET = 21;
export const DEFAULT_OPSET = 17;

export interface OnnxExportOptions {
  /** Input shape [N, C, H, W]; the traced batch is N. */
  input: number[];
  /** ONNX opset, 13 to 21 (default 17). */
  opset?: number;
  /** Make the batch dimension symbolic so any batch size runs. */
  dynamicBatch?: boolean;
  /** Fold each BatchNorm into the convolution before it (the model itself is not changed). */
  foldBn?: boolean;
  /** The graph's name in the file (default: the model's class). */
  name?: string;
}

/** The IR version each opset was released with: an older runtime reads the oldest that fits. */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function checkOptions(model: Module<Tensor, unknown>, options: OnnxExportOptions): number {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new Error(`exportOnnx: opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  }
  if (model.training) {
    throw new Error('exportOnnx: the model is in training mode (BatchNorm would use batch statistics, dropout would drop); call model.eval() first');
  }
  const shape = options.input;
  if (!Array.isArray(shape) || shape.length !== 4 || shape.some((size) => !Number.isInteger(size) || size <= 0)) {
    throw new Error(`exportOnnx: the input must be a shape [N, C, H, W] of positive integers, got [${String(shape)}]`);
  }
  return opset;
}

function modelName(model: object): string {
  const name = (model as { name?: unknown }).name;
  return typeof name === 'string' ? name : model.constructor.name;
}

/** Captures the model's graph, naming the model and the input when the model cannot take it. */
function capture(model: Module<Tensor, unknown>, input: number[]): ModelGraph {
  try {
    return captureGraph(model, { input });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (reason.startsWith('graph capture: op')) throw error;
    throw new Error(`exportOnnx: ${modelName(model)} cannot run on an input of shape [${input.join(', ')}]: ${reason}`);
  }
}

/** Converts a captured graph into an ONNX ModelProto. */
export function graphToOnnx(graph: ModelGraph, options: { opset: number; dynamicBatch: boolean; name: string }): Uint8Array {
  const builder = new OnnxGraphBuilder(graph, options);
  for (const op of graph.ops) {
    const convert = CONVERTERS.get(op.op);
    if (!convert) throw new Error(`ONNX export: op '${op.op}' in module '${op.path || '(model)'}' has no ONNX converter`);
    convert(op, builder);
  }
  const outputs = graph.outputs.map((value) => builder.valueInfo(value, builder.nameOf(value.id)));
  const model = onnx.ModelProto.create({
    irVersion: irVersionFor(options.opset),
    producerName: 'resnets',
    opsetImport: [{ domain: '', version: options.opset }],
    graph: {
      name: options.name,
      node: builder.nodes,
      initializer: builder.initializers,
      input: [builder.valueInfo(graph.input, 'input')],
      output: outputs,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * The model as an ONNX file's bytes: one forward pass on `options.input` traced, each
 * op converted, parameters and buffers stored under their state-dict keys. The model
 * must be in eval mode.
 */
export function exportOnnx(model: Module<Tensor, unknown>, options: OnnxExportOptions): Uint8Array {
  const opset = checkOptions(model, options);
  const source: Module<Tensor, unknown> = options.foldBn ? fuseForInference(model as Module) : model;
  const graph = capture(source, options.input);
  try {
    return graphToOnnx(graph, { opset, dynamicBatch: options.dynamicBatch ?? false, name: options.name ?? modelName(model) });
  } finally {
    disposeGraph(graph);
    if (source !== model) source.dispose();
  }
}

/** exportOnnx written to `file` (through a temporary file, so a failure leaves no partial file). */
export function saveOnnx(model: Module<Tensor, unknown>, file: string, options: OnnxExportOptions): void {
  writeFileAtomic(file, exportOnnx(model, options));
}
