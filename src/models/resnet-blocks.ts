// The two residual blocks of He et al. (2015), with torchvision's names and knobs:
// BasicBlock (two 3x3 convolutions) and BottleneckBlock (1x1, 3x3, 1x1 with 4x
// expansion), whose `groups` and `widthPerGroup` make ResNeXt and Wide ResNet.
import { BatchNorm2d } from '../nn/batchnorm.js';
import type { Conv2d } from '../nn/conv.js';
import { ReLU } from '../nn/activation.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { tidy } from '../torch/scope.js';
import { conv1x1, conv3x3, type ResidualBranch } from './layers.js';
import type { ConvBnPairs } from './fuse.js';

/**
 * Where a downsampling bottleneck puts its stride: '3x3' is torchvision's v1.5 (the
 * 3x3 convolution strides), '1x1' the original v1 of the paper, Keras and MXNet (the
 * first 1x1 convolution strides).
 */
export type StridePlacement = '3x3' | '1x1';

export interface BlockOptions {
  stride?: number;
  /** The shortcut's projection when the shape changes (1x1 conv + BN), or a parameter-free module. */
  downsample?: Module | null;
  groups?: number;
  /** Channels per group of the 3x3 convolution at 64 planes (torchvision's base_width). */
  widthPerGroup?: number;
  dilation?: number;
  strideOn?: StridePlacement;
}

/** Adds the shortcut to the residual branch's output and applies the final ReLU. */
function mergeShortcut(branch: Tensor, input: Tensor, downsample: Module | null): Tensor {
  const shortcut = downsample ? downsample.call(input) : input;
  return branch.add_(shortcut).relu_();
}

/** Two 3x3 convolutions; the first one strides. */
export class BasicBlock extends Module implements ResidualBranch, ConvBnPairs {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: Module;
  readonly conv2: Conv2d;
  readonly bn2: Module;
  readonly relu: ReLU;
  readonly downsample: Module | null;

  constructor(inChannels: number, planes: number, options: BlockOptions = {}) {
    super();
    if ((options.groups ?? 1) !== 1 || (options.widthPerGroup ?? 64) !== 64) {
      throw new Error('BasicBlock supports only groups=1 and widthPerGroup=64 (use the bottleneck block for ResNeXt and Wide ResNet)');
    }
    if ((options.dilation ?? 1) > 1) throw new Error('BasicBlock does not support dilation > 1 (use the bottleneck block)');
    const stride = options.stride ?? 1;
    this.conv1 = this.registerModule('conv1', conv3x3(inChannels, planes, { stride }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.relu = this.registerModule('relu', new ReLU(true));
    this.downsample = options.downsample ? this.registerModule('downsample', options.downsample) : null;
  }

  get lastNorm(): Module {
    return this.bn2;
  }
  convBnPairs(): [string, string][] {
    return [['conv1', 'bn1'], ['conv2', 'bn2']];
  }

  forward(input: Tensor): Tensor {
    return tidy(() => {
      const out = this.relu.call(this.bn1.call(this.conv1.call(input)));
      return mergeShortcut(this.bn2.call(this.conv2.call(out)), input, this.downsample);
    });
  }
}

/** 1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand by 4. */
export class BottleneckBlock extends Module implements ResidualBranch, ConvBnPairs {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: Module;
  readonly conv2: Conv2d;
  readonly bn2: Module;
  readonly conv3: Conv2d;
  readonly bn3: Module;
  readonly relu: ReLU;
  readonly downsample: Module | null;

  constructor(inChannels: number, planes: number, options: BlockOptions = {}) {
    super();
    const stride = options.stride ?? 1;
    const groups = options.groups ?? 1;
    const width = Math.floor(planes * ((options.widthPerGroup ?? 64) / 64)) * groups;
    const [reduceStride, spatialStride] = (options.strideOn ?? '3x3') === '1x1' ? [stride, 1] : [1, stride];
    this.conv1 = this.registerModule('conv1', conv1x1(inChannels, width, reduceStride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', conv3x3(width, width, { stride: spatialStride, groups, dilation: options.dilation }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(width));
    this.conv3 = this.registerModule('conv3', conv1x1(width, planes * BottleneckBlock.expansion));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * BottleneckBlock.expansion));
    this.relu = this.registerModule('relu', new ReLU(true));
    this.downsample = options.downsample ? this.registerModule('downsample', options.downsample) : null;
  }

  get lastNorm(): Module {
    return this.bn3;
  }
  convBnPairs(): [string, string][] {
    return [['conv1', 'bn1'], ['conv2', 'bn2'], ['conv3', 'bn3']];
  }

  forward(input: Tensor): Tensor {
    return tidy(() => {
      let out = this.relu.call(this.bn1.call(this.conv1.call(input)));
      out = this.relu.call(this.bn2.call(this.conv2.call(out)));
      return mergeShortcut(this.bn3.call(this.conv3.call(out)), input, this.downsample);
    });
  }
}

export type BlockType = 'basic' | 'bottleneck';
export const blockClasses = { basic: BasicBlock, bottleneck: BottleneckBlock } as const;
