// Folding an eval-mode BatchNorm into the convolution before it:
//   bn(conv(x)) = conv'(x),  w' = w * gamma / sqrt(var + eps),  b' = (b - mean) * gamma / sqrt(var + eps) + beta.
import type { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import type { Parameter } from '../nn/parameter.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

function checkFoldable(conv: Conv2d, bn: BatchNorm2d): void {
  if (!bn.runningMean || !bn.runningVar) throw new Error('foldBatchNorm: the BatchNorm keeps no running statistics, so eval mode has nothing to fold');
  if (bn.numFeatures !== conv.outChannels) {
    throw new Error(`foldBatchNorm: the convolution has ${conv.outChannels} output channels, the BatchNorm ${bn.numFeatures}`);
  }
}

/** An eval-mode BatchNorm's tensors: what folding reads. */
export interface BatchNormStatistics {
  runningMean: Tensor;
  runningVar: Tensor;
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps: number;
}

/**
 * Per output channel: the factor for a convolution's weight (shaped [C, 1, 1, 1]) and
 * its new bias, in `dtype`. They are computed in float64 and rounded once; scaling the
 * weight then rounds once per element.
 */
export function batchNormFoldFactors(convBias: Tensor | null | undefined, bn: BatchNormStatistics, dtype: Tensor['dtype']): { scale: Tensor; bias: Tensor } {
  let scale = bn.runningVar.double().add(bn.eps).rsqrt();
  if (bn.weight) scale = scale.mul(bn.weight.double());
  let bias = (convBias ? convBias.double().sub(bn.runningMean.double()) : bn.runningMean.double().neg()).mul(scale);
  if (bn.bias) bias = bias.add(bn.bias.double());
  return { scale: scale.to(dtype).reshape([-1, 1, 1, 1]), bias: bias.to(dtype) };
}

function foldFactors(conv: Conv2d, bn: BatchNorm2d): { scale: Tensor; bias: Tensor } {
  return batchNormFoldFactors(conv.bias, { runningMean: bn.runningMean!, runningVar: bn.runningVar!, weight: bn.weight, bias: bn.bias, eps: bn.eps }, conv.weight.dtype);
}

/** A new convolution that computes `bn(conv(x))` of the eval-mode BatchNorm; both inputs are left as they are. */
export function foldBatchNorm(conv: Conv2d, bn: BatchNorm2d): Conv2d {
  checkFoldable(conv, bn);
  return noGrad(() =>
    tidy(() => {
      const { scale, bias } = foldFactors(conv, bn);
      const folded = new Conv2d(conv.inChannels, conv.outChannels, conv.kernelSize, {
        stride: conv.stride,
        padding: conv.padding,
        dilation: conv.dilation,
        groups: conv.groups,
        bias: true,
      });
      folded.to(conv.weight.device).to(conv.weight.dtype);
      folded.weight.copy_(conv.weight.mul(scale));
      folded.bias!.copy_(bias);
      return folded;
    }),
  );
}

/**
 * Folds the eval-mode BatchNorm into `conv` itself: its weight is scaled in place and
 * it gains (or updates) a bias. No new weight is allocated, which matters for
 * the large models. Returns `conv`.
 */
export function foldBatchNormInto_(conv: Conv2d, bn: BatchNorm2d): Conv2d {
  checkFoldable(conv, bn);
  noGrad(() =>
    tidy(() => {
      const { scale, bias } = foldFactors(conv, bn);
      conv.weight.mul_(scale);
      if (conv.bias) {
        conv.bias.copy_(bias);
      } else {
        // Conv2d reads its bias from the field; the registration puts it in the state dict.
        (conv as { bias: Parameter | null }).bias = conv.registerParameter('bias', bias);
      }
    }),
  );
  return conv;
}

