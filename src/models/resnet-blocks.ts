// The two residual blocks of He et al. (2015), with torchvision's names and knobs:
// BasicBlock (two 3x3 convolutions) and BottleneckBlock (1x1, 3x3, 1x1 with 4x
// expansion), whose `groups` and `widthPerGroup` make ResNeXt and Wide ResNet. As in
// timm's resnet.py they also take their activation, norm and attention (SE, as `se`
// after the last norm), stochastic depth before the shortcut add, and dilation.
import type { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { tidy } from '../torch/scope.js';
import { ConvNormAct } from '../layers/conv-norm-act.js';
import { DropPath } from '../layers/drop-path.js';
import { batchNorm2d, relu, type ActFactory, type NormFactory } from '../layers/factories.js';
import { inlineInto } from '../layers/inline.js';
import type { AttentionFactory } from '../layers/squeeze-excite.js';
import type { ResidualBranch } from './layers.js';

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
  /** Dilation of the block's later 3x3 convolution (basic) ... */
  dilation?: number;
  /** ... and of the first (striding) 3x3 one; default `dilation` (timm's first_dilation). */
  firstDilation?: number;
  strideOn?: StridePlacement;
  /** One activation module, shared by every use in the block as torchvision's `relu`. */
  act?: ActFactory;
  norm?: NormFactory;
  /** Attention after the last norm (timm's `se`), or none. */
  attention?: AttentionFactory | null;
  /** Stochastic-depth rate of this block's residual branch. */
  dropPath?: number;
}

/** What both blocks share: the shortcut, attention, drop-path and the activation after the add. */
abstract class ResidualBlock extends Module implements ResidualBranch {
  abstract readonly relu: Module;
  readonly se: Module | null = null;
  readonly downsample: Module | null = null;
  readonly dropPath: DropPath | null = null;

  protected finishBlock(options: BlockOptions, outChannels: number): void {
    const writable = this as { se: Module | null; downsample: Module | null; dropPath: DropPath | null };
    if (options.attention) writable.se = this.registerModule('se', options.attention(outChannels));
    if (options.downsample) writable.downsample = this.registerModule('downsample', options.downsample);
    if ((options.dropPath ?? 0) > 0) writable.dropPath = this.registerModule('drop_path', new DropPath(options.dropPath!));
  }

  abstract get lastNorm(): Module;

  /** Attention, drop-path, the shortcut add and the block's activation module (hooks see it, as in torchvision). */
  protected merge(branch: Tensor, input: Tensor): Tensor {
    let x = this.se ? this.se.call(branch) : branch;
    if (this.dropPath) x = this.dropPath.call(x);
    const shortcut = this.downsample ? this.downsample.call(input) : input;
    return this.relu.call(x.add_(shortcut));
  }
}

/** Two 3x3 convolutions; the first one strides. */
export class BasicBlock extends ResidualBlock {
  static readonly expansion = 1;
  readonly unit1: ConvNormAct;
  readonly unit2: ConvNormAct;
  readonly relu: Module;

  constructor(inChannels: number, planes: number, options: BlockOptions = {}) {
    super();
    if ((options.groups ?? 1) !== 1 || (options.widthPerGroup ?? 64) !== 64) {
      throw new Error('BasicBlock supports only groups=1 and widthPerGroup=64 (use the bottleneck block for ResNeXt and Wide ResNet)');
    }
    const dilation = options.dilation ?? 1;
    const norm = options.norm ?? batchNorm2d;
    this.relu = (options.act ?? relu)(planes);
    this.unit1 = inlineInto(this, new ConvNormAct(inChannels, planes, 3, {
      stride: options.stride ?? 1,
      dilation: options.firstDilation ?? dilation,
      norm,
      act: this.relu,
      names: { conv: 'conv1', norm: 'bn1', act: 'relu' },
    }));
    this.unit2 = inlineInto(this, new ConvNormAct(planes, planes, 3, { dilation, norm, act: null, names: { conv: 'conv2', norm: 'bn2' } }));
    this.finishBlock(options, planes);
  }

  get conv1(): Conv2d {
    return this.unit1.conv;
  }
  get conv2(): Conv2d {
    return this.unit2.conv;
  }
  get lastNorm(): Module {
    return this.unit2.norm!;
  }

  forward(input: Tensor): Tensor {
    return tidy(() => this.merge(this.unit2.run(this.unit1.run(input, { act: true }), { act: false }), input));
  }
}

/** 1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand by 4. */
export class BottleneckBlock extends ResidualBlock {
  static readonly expansion = 4;
  readonly unit1: ConvNormAct;
  readonly unit2: ConvNormAct;
  readonly unit3: ConvNormAct;
  readonly relu: Module;

  constructor(inChannels: number, planes: number, options: BlockOptions = {}) {
    super();
    const stride = options.stride ?? 1;
    const groups = options.groups ?? 1;
    const width = Math.floor(planes * ((options.widthPerGroup ?? 64) / 64)) * groups;
    const outChannels = planes * BottleneckBlock.expansion;
    const [reduceStride, spatialStride] = (options.strideOn ?? '3x3') === '1x1' ? [stride, 1] : [1, stride];
    const norm = options.norm ?? batchNorm2d;
    this.relu = (options.act ?? relu)(outChannels);
    const act = this.relu;
    this.unit1 = inlineInto(this, new ConvNormAct(inChannels, width, 1, { stride: reduceStride, norm, act, names: { conv: 'conv1', norm: 'bn1', act: 'relu' } }));
    this.unit2 = inlineInto(this, new ConvNormAct(width, width, 3, {
      stride: spatialStride,
      groups,
      dilation: options.firstDilation ?? options.dilation ?? 1,
      norm,
      act,
      names: { conv: 'conv2', norm: 'bn2', act: 'relu' },
    }));
    this.unit3 = inlineInto(this, new ConvNormAct(width, outChannels, 1, { norm, act: null, names: { conv: 'conv3', norm: 'bn3' } }));
    this.finishBlock(options, outChannels);
  }

  get conv1(): Conv2d {
    return this.unit1.conv;
  }
  get conv2(): Conv2d {
    return this.unit2.conv;
  }
  get conv3(): Conv2d {
    return this.unit3.conv;
  }
  get lastNorm(): Module {
    return this.unit3.norm!;
  }

  forward(input: Tensor): Tensor {
    return tidy(() => {
      const out = this.unit2.run(this.unit1.run(input, { act: true }), { act: true });
      return this.merge(this.unit3.run(out, { act: false }), input);
    });
  }
}

export type BlockType = 'basic' | 'bottleneck';
export const blockClasses = { basic: BasicBlock, bottleneck: BottleneckBlock } as const;
