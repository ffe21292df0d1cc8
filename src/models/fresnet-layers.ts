// MXNet's operators as fresnet uses them, in torch terms: BatchNorm with MXNet's eps
// and momentum, BatchNorm with `fix_gamma` (gamma stored but read as 1), FullyConnected
// (which flattens its input), the `Act` switch between ReLU and PReLU, and fresnet.py's
// squeeze-and-excitation on the shared SqueezeExcite. Module names follow MXNet's so the key map is mechanical.
import { actFactory } from '../layers/factories.js';
import { SqueezeExcite } from '../layers/squeeze-excite.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { ones, zeros } from '../torch/creation.js';
import { batchNorm } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';

/** fresnet's BatchNorm eps; MXNet's own default (1e-3) where fresnet.py passes none. */
export const FRESNET_EPS = 2e-5;
export const MXNET_DEFAULT_EPS = 1e-3;
/** MXNet's momentum 0.9 keeps 90% of the running value: PyTorch's momentum 0.1. */
export const TORCH_MOMENTUM = 1 - 0.9;

export type Activation = 'relu' | 'prelu';

/** mx.sym.BatchNorm(fix_gamma=False) on a feature map. */
export function batchNorm2d(channels: number, eps = FRESNET_EPS): BatchNorm2d {
  return new BatchNorm2d(channels, { eps, momentum: TORCH_MOMENTUM });
}

/**
 * mx.sym.BatchNorm(fix_gamma=True): normalises over dimension 1 of any input of rank 2
 * or more, then adds beta; gamma is kept (MXNet stores it) but never read, as MXNet's
 * kernel uses 1 in its place. Its parameter is frozen.
 */
export class FixedGammaBatchNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(
    readonly numFeatures: number,
    readonly eps = FRESNET_EPS,
  ) {
    super();
    const [weight, bias] = [ones([numFeatures]), zeros([numFeatures])];
    this.weight = this.registerParameter('weight', weight)!;
    this.bias = this.registerParameter('bias', bias)!;
    weight.dispose();
    bias.dispose();
    this.weight.requiresGrad_(false);
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]))!;
    this.runningVar = this.registerBuffer('running_var', ones([numFeatures]))!;
  }

  forward(input: Tensor): Tensor {
    if (input.ndim < 2 || input.shape[1] !== this.numFeatures) {
      throw new Error(`expected an input with ${this.numFeatures} channels in dimension 1, got [${input.shape.join(', ')}]`);
    }
    return batchNorm(input, this.runningMean, this.runningVar, { weight: null, bias: this.bias, training: this.training, momentum: TORCH_MOMENTUM, eps: this.eps });
  }
}

/** mx.sym.FullyConnected: flattens everything after the batch dimension, then a linear layer. */
export class FullyConnected extends Linear {
  override forward(input: Tensor): Tensor {
    return super.forward(input.ndim > 2 ? input.flatten(1) : input);
  }
}

/** fresnet.py's `Act`: PReLU (one slope per channel, 0.25 at first) or ReLU. */
export function act(kind: Activation, channels: number): Module {
  return actFactory(kind)(channels);
}

/**
 * fresnet.py's SE block: global average pooling, a biased 1x1 convolution to C / 16,
 * `Act`, a biased 1x1 convolution back, sigmoid, the product with the input: the shared
 * SqueezeExcite with fresnet.py's width (floor, no rounding) and activation. Its fc1 /
 * act / fc2 are MXNet's _se_conv1 / _se_relu1 / _se_conv2 (see mxnet-names.ts).
 */
export function squeezeExcite(channels: number, activation: Activation): SqueezeExcite {
  return new SqueezeExcite(channels, { width: Math.floor(channels / 16), act: activation });
}

/** A convolution without bias, as fresnet.py's `Conv(..., no_bias=True)`. */
export function conv(inChannels: number, outChannels: number, kernel: number, stride: number, groups = 1): Conv2d {
  return new Conv2d(inChannels, outChannels, kernel, { stride, padding: (kernel - 1) / 2, groups, bias: false });
}
