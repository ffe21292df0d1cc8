// Functions on tensors: joins, neural-network operations and losses. Names are
// PyTorch's in camelCase (batchNorm, crossEntropy, maxPool2d).
import { native, type NativeHandle } from '../native.js';
import { Tensor } from './tensor.js';
import { dtypeCode } from './dtype.js';

/** A size for both spatial dimensions, or [height, width]. */
export type Pair = number | [number, number];
export const pair = (value: Pair): [number, number] => (typeof value === 'number' ? [value, value] : value);

export function cat(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(native.cat(tensors.map((t) => t.handle), dim));
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(native.stack(tensors.map((t) => t.handle), dim));
}
export function split(input: Tensor, sizeOrSizes: number | number[], dim = 0): Tensor[] {
  return input.split(sizeOrSizes, dim);
}
export function chunk(input: Tensor, chunks: number, dim = 0): Tensor[] {
  return input.chunk(chunks, dim);
}
export function where(condition: Tensor, input: Tensor, other: Tensor): Tensor {
  return new Tensor(native.where(condition.handle, input.handle, other.handle));
}
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
export function oneHot(indices: Tensor, numClasses: number): Tensor {
  return new Tensor(native.oneHot(indices.handle, numClasses));
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  if (input.device === 'meta' && weight.device === 'meta') return metaConv2d(input, weight, options);
  return new Tensor(
    native.conv2d(input.handle, weight.handle, bias?.handle, pair(options.stride ?? 1), pair(options.padding ?? 0),
      pair(options.dilation ?? 1), options.groups ?? 1),
  );
}

/**
 * libtorch 1.13 has no meta kernel for convolution (PyTorch 2 has): the output shape
 * is computed here, so a model built on 'meta' can still be traced for shapes and counts.
 */
function metaConv2d(input: Tensor, weight: Tensor, options: Conv2dOptions): Tensor {
  const [n, channels, height, width] = input.shape;
  const [out, perGroup, kh, kw] = weight.shape;
  const groups = options.groups ?? 1;
  if (input.ndim !== 4 || channels !== perGroup * groups) {
    throw new Error(`conv2d: weight of size [${weight.shape.join(', ')}] with groups=${groups} expects input [N, ${perGroup * groups}, H, W], got [${input.shape.join(', ')}]`);
  }
  const [sh, sw] = pair(options.stride ?? 1);
  const [ph, pw] = pair(options.padding ?? 0);
  const [dh, dw] = pair(options.dilation ?? 1);
  const size = (length: number, k: number, s: number, p: number, d: number) => Math.floor((length + 2 * p - d * (k - 1) - 1) / s) + 1;
  const shape = [n, out, size(height, kh, sh, ph, dh), size(width, kw, sw, pw, dw)];
  if (shape[2] < 1 || shape[3] < 1) throw new Error(`conv2d: input [${input.shape.join(', ')}] is too small for kernel [${kh}, ${kw}]`);
  return new Tensor(native.empty(shape, dtypeCode(input.dtype), 'meta'));
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}
/** Batch normalisation; in training mode the running statistics are updated in place. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  // No meta kernel in libtorch 1.13 either; the output has the input's shape.
  if (input.device === 'meta') return new Tensor(native.empty(input.shape, dtypeCode(input.dtype), 'meta'));
  return new Tensor(
    native.batchNorm(input.handle, options.weight?.handle, options.bias?.handle, runningMean?.handle, runningVar?.handle,
      options.training ?? false, options.momentum ?? 0.1, options.eps ?? 1e-5),
  );
}
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return new Tensor(native.linear(input.handle, weight.handle, bias?.handle));
}
export function relu(input: Tensor): Tensor {
  return input.relu();
}
export function prelu(input: Tensor, weight: Tensor): Tensor {
  return new Tensor(native.prelu(input.handle, weight.handle));
}
export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  return new Tensor(native.leakyRelu(input.handle, negativeSlope));
}
export function sigmoid(input: Tensor): Tensor {
  return input.sigmoid();
}
export function hardtanh(input: Tensor, min = -1, max = 1): Tensor {
  return new Tensor(native.hardtanh(input.handle, min, max));
}
export function softmax(input: Tensor, dim: number): Tensor {
  return input.softmax(dim);
}
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return input.logSoftmax(dim);
}

export interface MaxPoolOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}
export function maxPool2d(input: Tensor, kernelSize: Pair, options: MaxPoolOptions = {}): Tensor {
  return new Tensor(
    native.maxPool2d(input.handle, pair(kernelSize), pair(options.stride ?? kernelSize), pair(options.padding ?? 0),
      pair(options.dilation ?? 1), options.ceilMode ?? false),
  );
}
export interface AvgPoolOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}
export function avgPool2d(input: Tensor, kernelSize: Pair, options: AvgPoolOptions = {}): Tensor {
  return new Tensor(
    native.avgPool2d(input.handle, pair(kernelSize), pair(options.stride ?? kernelSize), pair(options.padding ?? 0),
      options.ceilMode ?? false, options.countIncludePad ?? true),
  );
}
export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return new Tensor(native.adaptiveAvgPool2d(input.handle, pair(outputSize)));
}
export function adaptiveMaxPool2d(input: Tensor, outputSize: Pair): Tensor {
  return new Tensor(native.adaptiveMaxPool2d(input.handle, pair(outputSize)));
}
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  return new Tensor(native.dropout(input.handle, p, training));
}

export type Reduction = 'none' | 'mean' | 'sum';
const reductionCode = (reduction: Reduction): number => ({ none: 0, mean: 1, sum: 2 })[reduction];

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  labelSmoothing?: number;
}
/** Cross entropy of logits against class indices (int64) or class probabilities. */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  return new Tensor(
    native.crossEntropy(logits.handle, target.handle, options.weight?.handle, reductionCode(options.reduction ?? 'mean'),
      options.ignoreIndex ?? -100, options.labelSmoothing ?? 0),
  );
}
export function nllLoss(logProbs: Tensor, target: Tensor, options: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  return new Tensor(
    native.nllLoss(logProbs.handle, target.handle, options.weight?.handle, reductionCode(options.reduction ?? 'mean'),
      options.ignoreIndex ?? -100),
  );
}
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.mseLoss(input.handle, target.handle, reductionCode(reduction)));
}
/** Pads the last dimensions: `pads` is [left, right, top, bottom, ...] as torch.nn.functional.pad. */
export function pad(input: Tensor, pads: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor {
  return new Tensor(native.pad(input.handle, pads, mode, value));
}
export function interpolateBilinear(input: Tensor, size: [number, number], options: { alignCorners?: boolean; antialias?: boolean } = {}): Tensor {
  return new Tensor(native.interpolateBilinear(input.handle, size, options.alignCorners ?? false, options.antialias ?? false));
}
export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  return new Tensor(native.cosineSimilarity(a.handle, b.handle, dim, eps));
}
/** L2-normalises along `dim`, as torch.nn.functional.normalize. */
export function normalize(input: Tensor, dim = 1, eps = 1e-12): Tensor {
  return new Tensor(native.normalize(input.handle, dim, eps));
}

export type { NativeHandle };

/** How many elements of `input` are NaN or ±Infinity (0 for integer and bool tensors). */
export function countNonFinite(input: Tensor): number {
  return native.countNonFinite(input.handle);
}

/** Samples 0/1 per element with probability `p` of 1, in the shape, dtype and device of `like`, from libtorch's generator. */
export function bernoulli(like: Tensor, p: number): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`bernoulli: p must be in [0, 1], got ${p}`);
  return new Tensor(native.bernoulli(like.handle, p));
}
