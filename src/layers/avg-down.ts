// The pooling of ResNet-D's average-pool shortcut (timm's downsample_avg / DownsampleAvg):
// a 2x2 average at the stage's stride before a stride-1 1x1 projection; in a dilated
// stage a stride-1 2x2 average padded to keep the size (timm's AvgPool2dSame).
import { Identity } from '../nn/basic.js';
import type { Module } from '../nn/module.js';
import { AvgPool2d } from '../nn/pooling.js';
import { pad } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';

/** timm's AvgPool2dSame for a 2x2 window at stride 1: pads right and bottom by one (zeros, counted) first. */
export class AvgPool2dSame extends AvgPool2d {
  override forward(input: Tensor): Tensor {
    return super.forward(pad(input, [0, 1, 0, 1]));
  }
}

export function avgDownPool(stride: number, dilation: number): Module {
  if (stride === 1 && dilation === 1) return new Identity();
  const avgStride = dilation === 1 ? stride : 1;
  if (avgStride === 1) return new AvgPool2dSame(2, { stride: 1, ceilMode: true, countIncludePad: false });
  return new AvgPool2d(2, { stride: avgStride, ceilMode: true, countIncludePad: false });
}
