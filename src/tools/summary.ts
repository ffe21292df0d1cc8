// Model summary: one forward pass with hooks on every leaf module, recording each
// layer's output shape, own parameters and multiply-accumulates (MACs).
import { PReLU } from '../nn/activation.js';
import { BatchNorm1d, BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import { FixedGammaBatchNorm } from '../models/fresnet-layers.js';
import type { Module } from '../nn/module.js';
import { zeros } from '../torch/creation.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import { Tensor } from '../torch/tensor.js';
import { isFloatingPoint } from '../torch/dtype.js';

type AnyModule = Module<unknown, unknown>;

export interface LayerSummary {
  /** Dotted module path, as in state-dict keys ('layer1.0.conv1'). */
  path: string;
  /** The module's class name. */
  type: string;
  /** Output shape; a list of shapes when the layer returns several tensors. */
  outputShape: number[] | number[][];
  /** Parameters the module owns directly, counted on its first call only. */
  params: number;
  /** Multiply-accumulates per image (convolutions and linear layers only). */
  macs: number;
  /** The parameters mx.viz.print_summary would print for this layer (see mxnetLayerParams). */
  mxnetParams: number;
}

export interface ModelSummary {
  input: number[];
  totalParams: number;
  trainableParams: number;
  /** Elements of floating-point buffers (BatchNorm running statistics). */
  buffers: number;
  /** Multiply-accumulates per image, summed over every call of every layer. */
  macs: number;
  /** The total MXNet's mx.viz.print_summary prints for the same network. */
  mxnetParams: number;
  layers: LayerSummary[];
}

function ownParameterCount(module: AnyModule): number {
  let count = 0;
  for (const [name, parameter] of module.namedParameters()) if (!name.includes('.')) count += parameter.numel;
  return count;
}

function outputShapes(output: unknown): number[] | number[][] {
  if (output instanceof Tensor) return output.shape;
  const shapes: number[][] = [];
  const visit = (value: unknown): void => {
    if (value instanceof Tensor) shapes.push(value.shape);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value instanceof Map) [...value.values()].forEach(visit);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(output);
  return shapes;
}

/** MACs of one call per image; bias additions are not counted (as torchvision's tables). */
function layerMacs(module: AnyModule, output: unknown, batch: number): number {
  if (!(output instanceof Tensor)) return 0;
  if (module instanceof Conv2d) {
    const [kh, kw] = module.kernelSize;
    return (output.numel * (module.inChannels / module.groups) * kh * kw) / batch;
  }
  if (module instanceof Linear) return (output.numel * module.inFeatures) / batch;
  return 0;
}

/**
 * What mx.viz.print_summary counts for a layer, quirks included: a fully connected layer
 * counts (input channels + 1) x outputs, reading only dimension 1 of a 4-D input (so a
 * FullyConnected on a 512 x 7 x 7 map counts 513 x 512); a BatchNorm counts gamma and
 * beta (its moving statistics are not parameters to it); PReLU slopes are not counted;
 * convolutions count their weights and bias. Counted on every call, as each call is a
 * node of MXNet's graph.
 */
function mxnetLayerParams(module: AnyModule, input: unknown, output: unknown, own: number): number {
  if (module instanceof Linear) {
    const channels = input instanceof Tensor && input.ndim >= 2 ? input.shape[1] : module.inFeatures;
    return (channels + (module.bias ? 1 : 0)) * module.outFeatures;
  }
  if (module instanceof BatchNorm2d || module instanceof BatchNorm1d || module instanceof FixedGammaBatchNorm) {
    return output instanceof Tensor ? 2 * output.shape[1] : own;
  }
  if (module instanceof PReLU) return 0;
  return own;
}

/** Leaves, and containers that own parameters of their own (their compute is theirs). */
function isReported(module: AnyModule): boolean {
  return module.children().length === 0 || ownParameterCount(module) > 0;
}

/**
 * Runs `model` once in eval mode without autograd on a zero tensor of `inputShape`
 * and reports every leaf layer in call order. A layer called twice appears twice
 * (its parameters are counted once). The model's train/eval modes are restored.
 */
export function summarize(model: Module<Tensor, unknown>, inputShape: number[]): ModelSummary {
  if (inputShape.length === 0 || inputShape.some((size) => !Number.isInteger(size) || size <= 0)) {
    throw new Error(`summary: the input shape must be positive integers, got [${inputShape.join(', ')}]`);
  }
  const root = model as unknown as AnyModule;
  const batch = inputShape[0];
  const layers: LayerSummary[] = [];
  const seen = new Set<AnyModule>();
  const removers: (() => void)[] = [];
  const modes = new Map<AnyModule, boolean>();
  for (const [path, module] of root.namedModules()) {
    // A module reachable under two paths is hooked (and reported) under the first.
    if (modes.has(module)) continue;
    modes.set(module, module.training);
    if (!isReported(module)) continue;
    removers.push(
      module.registerForwardHook((called, input, output) => {
        const first = !seen.has(called);
        seen.add(called);
        layers.push({
          path: path || '(model)',
          type: called.constructor.name,
          outputShape: outputShapes(output),
          params: first ? ownParameterCount(called) : 0,
          macs: layerMacs(called, output, batch),
          mxnetParams: mxnetLayerParams(called, input, output, ownParameterCount(called)),
        });
      }),
    );
  }
  try {
    model.eval();
    // The input follows the model: a model built on 'meta' (no storage) is summarised
    // without computing anything, a float64 or CUDA model gets a float64 or CUDA input.
    const reference = root.parameters()[0] ?? root.buffers()[0];
    const like = reference ? { dtype: isFloatingPoint(reference.dtype) ? reference.dtype : ('float32' as const), device: reference.device } : {};
    tidy(() => {
      noGrad(() => model.call(zeros(inputShape, like)));
    });
  } finally {
    for (const remove of removers) remove();
    for (const [module, training] of modes) module.training = training;
  }
  // Shared modules hold one set of tensors: count each tensor once.
  const parameters = new Set(root.parameters());
  let [totalParams, trainableParams, buffers] = [0, 0, 0];
  for (const parameter of parameters) {
    totalParams += parameter.numel;
    if (parameter.requiresGrad) trainableParams += parameter.numel;
  }
  for (const buffer of new Set(root.buffers())) if (buffer.dtype.startsWith('float') || buffer.dtype === 'bfloat16') buffers += buffer.numel;
  return {
    input: [...inputShape],
    totalParams,
    trainableParams,
    buffers,
    macs: layers.reduce((sum, layer) => sum + layer.macs, 0),
    mxnetParams: layers.reduce((sum, layer) => sum + layer.mxnetParams, 0),
    layers,
  };
}

/** 4089184256 -> '4.09 GMACs'. */
export function formatMacs(macs: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, prefix] of units) if (macs >= scale) return `${(macs / scale).toFixed(2)} ${prefix}MACs`;
  return `${macs} MACs`;
}

const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function shapeText(shape: number[] | number[][]): string {
  const one = (s: number[]) => `[${s.join(', ')}]`;
  return shape.length > 0 && Array.isArray(shape[0]) ? (shape as number[][]).map(one).join(' ') : one(shape as number[]);
}

export type CountConvention = 'torch' | 'mxnet';

/**
 * The summary as an aligned text table with a totals block. With the 'mxnet' convention
 * the Params column and a last total line are what mx.viz.print_summary prints.
 */
export function formatSummary(summary: ModelSummary, title?: string, convention: CountConvention = 'torch'): string {
  const header = ['Layer', 'Type', 'Output shape', 'Params', 'MACs'];
  const rows = summary.layers.map((layer) => {
    const params = convention === 'mxnet' ? layer.mxnetParams : layer.params;
    return [layer.path, layer.type, shapeText(layer.outputShape), params === 0 ? '-' : thousands(params), layer.macs === 0 ? '-' : thousands(layer.macs)];
  });
  const widths = header.map((name, column) => Math.max(name.length, ...rows.map((row) => row[column].length)));
  const numeric = [false, false, false, true, true];
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((sum, width) => sum + width, 0) + 2 * (widths.length - 1));
  const out: string[] = [];
  if (title) out.push(`${title}  input [${summary.input.join(', ')}]`);
  out.push(rule, line(header), rule, ...rows.map(line), rule);
  out.push(`Total params:      ${thousands(summary.totalParams)}`);
  out.push(`Trainable params:  ${thousands(summary.trainableParams)}`);
  out.push(`Non-trainable:     ${thousands(summary.totalParams - summary.trainableParams)}`);
  out.push(`Buffers:           ${thousands(summary.buffers)}`);
  out.push(`MACs per image:    ${formatMacs(summary.macs)} (${thousands(summary.macs)})`);
  if (convention === 'mxnet') out.push(`MXNet print_summary total params: ${thousands(summary.mxnetParams)}`);
  return out.join('\n');
}
