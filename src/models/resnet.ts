// ResNet for ImageNet-sized inputs (He et al. 2015), laid out as torchvision's
// resnet.py so state-dict keys and shapes are torchvision's: a 7x7 stem, stages of
// residual blocks (layer1..layer4), global average pooling and a linear classifier.
import { ReLU } from '../nn/activation.js';
import { Identity, Flatten } from '../nn/basic.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import { AdaptiveAvgPool2d, MaxPool2d } from '../nn/pooling.js';
import { Sequential } from '../nn/sequential.js';
import type { Tensor } from '../torch/tensor.js';
import { ImageClassifier } from './classifier.js';
import type { ConvBnPairs } from './fuse.js';
import { conv1x1, initResNetWeights, runChain, Stage } from './layers.js';
import { checkBoolean, checkChoice, checkInteger, checkIntegerList } from './options.js';
import type { ModelConfig } from './registry.js';
import { blockClasses, type BlockType, type StridePlacement } from './resnet-blocks.js';

/** A ResNet as plain data: everything that decides its layers. */
export interface ResNetConfig extends ModelConfig {
  family?: 'resnet';
  /** Used in messages; 'resnet' for an unnamed custom config. */
  name?: string;
  block: BlockType;
  /** Blocks per stage: [2, 2, 2, 2] for ResNet-18, [3, 4, 6, 3] for ResNet-50. */
  depths: number[];
  /** Planes per stage before the block's expansion; default 64, 128, 256, 512, ... doubling. */
  widths?: number[];
  /** Output channels of the 7x7 stem convolution. */
  stemWidth?: number;
  /** ResNeXt's cardinality: groups of the 3x3 convolution in bottleneck blocks. */
  groups?: number;
  /** Channels per group at 64 planes: 4 for resnext50_32x4d, 128 for wide_resnet50_2. */
  widthPerGroup?: number;
  numClasses?: number;
  inChans?: number;
  /** Start each block's last BatchNorm at 0, so residual branches begin as identities. */
  zeroInitResidual?: boolean;
  /** Per stage after the first: replace its stride 2 by dilation (for dense prediction). */
  replaceStrideWithDilation?: boolean[];
  strideOn?: StridePlacement;
}

export type ResolvedResNetConfig = Required<ResNetConfig>;

/** Fills in every default and checks every value. */
export function resolveResNetConfig(config: ResNetConfig): ResolvedResNetConfig {
  const name = config.name ?? 'resnet';
  const block = checkChoice(name, 'block', config.block, ['basic', 'bottleneck'] as const);
  const depths = checkIntegerList(name, 'depths', config.depths, 1);
  const widths = config.widths === undefined ? depths.map((_, i) => 64 * 2 ** i) : checkIntegerList(name, 'widths', config.widths, 1, depths.length);
  const dilation = config.replaceStrideWithDilation ?? depths.slice(1).map(() => false);
  if (!Array.isArray(dilation) || dilation.length !== depths.length - 1) {
    throw new Error(`${name}: replaceStrideWithDilation must list ${depths.length - 1} booleans (one per stage after the first), got ${JSON.stringify(dilation)}`);
  }
  dilation.forEach((value, i) => checkBoolean(name, `replaceStrideWithDilation[${i}]`, value));
  const resolved: ResolvedResNetConfig = {
    family: 'resnet',
    name,
    block,
    depths,
    widths,
    stemWidth: checkInteger(name, 'stemWidth', config.stemWidth ?? 64, 1),
    groups: checkInteger(name, 'groups', config.groups ?? 1, 1),
    widthPerGroup: checkInteger(name, 'widthPerGroup', config.widthPerGroup ?? 64, 1),
    numClasses: checkInteger(name, 'numClasses', config.numClasses ?? 1000, 0),
    inChans: checkInteger(name, 'inChans', config.inChans ?? 3, 1),
    zeroInitResidual: checkBoolean(name, 'zeroInitResidual', config.zeroInitResidual ?? false),
    replaceStrideWithDilation: [...dilation],
    strideOn: checkChoice(name, 'strideOn', config.strideOn ?? '3x3', ['3x3', '1x1'] as const),
  };
  if (block === 'basic' && (resolved.groups !== 1 || resolved.widthPerGroup !== 64)) {
    throw new Error(`${name}: basic blocks support only groups 1 and widthPerGroup 64, got groups ${resolved.groups}, widthPerGroup ${resolved.widthPerGroup}`);
  }
  if (block === 'basic' && dilation.some(Boolean)) throw new Error(`${name}: basic blocks do not support replaceStrideWithDilation`);
  return resolved;
}

export interface BuildOptions {
  /** false skips torchvision's initialisation (the weights are about to be loaded). */
  init?: boolean;
}

export class ResNet extends ImageClassifier implements ConvBnPairs {
  readonly config: ResolvedResNetConfig;
  readonly numFeatures: number;
  readonly conv1: Conv2d;
  readonly bn1: Module;
  readonly relu: ReLU;
  readonly maxpool: MaxPool2d;
  /** layer1, layer2, ... */
  readonly stages: Stage[] = [];
  readonly avgpool: AdaptiveAvgPool2d;
  readonly flatten = new Flatten(1);
  readonly fc: Module;

  constructor(config: ResNetConfig, options: BuildOptions = {}) {
    const resolved = resolveResNetConfig(config);
    super(resolved.name, resolved.inChans, resolved.numClasses);
    this.config = resolved;
    const { stemWidth, inChans } = resolved;
    this.conv1 = this.registerModule('conv1', new Conv2d(inChans, stemWidth, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(stemWidth));
    this.relu = this.registerModule('relu', new ReLU(true));
    this.maxpool = this.registerModule('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 }));
    const builder = new StageBuilder(resolved);
    resolved.widths.forEach((width, i) => {
      const stride = i === 0 ? 1 : 2;
      const dilate = i === 0 ? false : resolved.replaceStrideWithDilation[i - 1];
      this.stages.push(this.registerModule(`layer${i + 1}`, builder.makeStage(width, resolved.depths[i], stride, dilate)));
    });
    this.numFeatures = builder.channels;
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', resolved.numClasses > 0 ? new Linear(this.numFeatures, resolved.numClasses) : new Identity());
    if (options.init ?? true) initResNetWeights(this, resolved.zeroInitResidual);
  }

  convBnPairs(): [string, string][] {
    return [['conv1', 'bn1']];
  }

  protected features(input: Tensor): Tensor {
    // The blocks are the units checkpointing segments; the stem stays together (its ReLU is in place).
    return this.runUnits(input, [[this.conv1, this.bn1, this.relu, this.maxpool], ...this.stages.flatMap((stage) => [...stage])]);
  }

  protected head(features: Tensor): Tensor {
    return runChain(features, [this.avgpool, this.flatten, this.fc]);
  }

  clone(): ResNet {
    return this.copyStateInto(new ResNet(this.config, { init: false }));
  }

  override describe(): string {
    const c = this.config;
    const grouping = c.block === 'bottleneck' ? `, groups ${c.groups}, widthPerGroup ${c.widthPerGroup}` : '';
    return `${c.name} (ResNet, ${c.block} blocks, depths [${c.depths.join(', ')}], widths [${c.widths.join(', ')}]${grouping}, inChans ${c.inChans}, numClasses ${c.numClasses})`;
  }
}

/**
 * torchvision's _make_layer: stacks the blocks of one stage and tracks the channel
 * count and dilation from stage to stage.
 */
class StageBuilder {
  channels: number;
  #dilation = 1;

  constructor(private readonly config: ResolvedResNetConfig) {
    this.channels = config.stemWidth;
  }

  makeStage(planes: number, blocks: number, stride: number, dilate: boolean): Stage {
    const Block = blockClasses[this.config.block];
    const previousDilation = this.#dilation;
    if (dilate) {
      this.#dilation *= stride;
      stride = 1;
    }
    const outChannels = planes * Block.expansion;
    const downsample =
      stride !== 1 || this.channels !== outChannels
        ? new Sequential(conv1x1(this.channels, outChannels, stride), new BatchNorm2d(outChannels))
        : null;
    const common = { groups: this.config.groups, widthPerGroup: this.config.widthPerGroup, strideOn: this.config.strideOn };
    const stage = new Stage(new Block(this.channels, planes, { ...common, stride, downsample, dilation: previousDilation }));
    this.channels = outChannels;
    for (let i = 1; i < blocks; i++) stage.append(new Block(this.channels, planes, { ...common, dilation: this.#dilation }));
    return stage;
  }
}
