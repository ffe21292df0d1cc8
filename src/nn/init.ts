// Weight initialisers with PyTorch's definitions of fan and gain. They fill in place.
import { noGrad } from '../torch/runtime.js';
import type { Tensor } from '../torch/tensor.js';

export type FanMode = 'fanIn' | 'fanOut';
export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu';

/** Fan-in and fan-out of a weight: [out, in, *kernel]. */
export function fans(tensor: Tensor): { fanIn: number; fanOut: number } {
  const shape = tensor.shape;
  if (shape.length < 2) throw new Error(`fan in and fan out need at least 2 dimensions, got [${shape.join(', ')}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

export function gain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leakyRelu':
      return Math.sqrt(2 / (1 + negativeSlope ** 2));
  }
}

export interface KaimingOptions {
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

function kaimingStd(tensor: Tensor, options: KaimingOptions): number {
  const fan = fans(tensor)[options.mode ?? 'fanIn'];
  const nonlinearity = options.nonlinearity ?? 'leakyRelu';
  return gain(nonlinearity, options.a ?? 0) / Math.sqrt(fan);
}

export function uniform_(tensor: Tensor, low = 0, high = 1): Tensor {
  return noGrad(() => tensor.uniform_(low, high));
}
export function normal_(tensor: Tensor, mean = 0, std = 1): Tensor {
  return noGrad(() => tensor.normal_(mean, std));
}
export function constant_(tensor: Tensor, value: number): Tensor {
  return noGrad(() => tensor.fill_(value));
}
export function zeros_(tensor: Tensor): Tensor {
  return constant_(tensor, 0);
}
export function ones_(tensor: Tensor): Tensor {
  return constant_(tensor, 1);
}
/** He et al. (2015) uniform initialisation. */
export function kaimingUniform_(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(tensor, options);
  return uniform_(tensor, -bound, bound);
}
/** He et al. (2015) normal initialisation. */
export function kaimingNormal_(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  return normal_(tensor, 0, kaimingStd(tensor, options));
}
export function xavierUniform_(tensor: Tensor, gainValue = 1): Tensor {
  const { fanIn, fanOut } = fans(tensor);
  const bound = gainValue * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(tensor, -bound, bound);
}
