// The CIFAR-10 ResNets of He et al. (2015), section 4.2: a 3x3 stem with 16 channels,
// three stages of n basic blocks with 16, 32 and 64 channels (6n + 2 layers), global
// average pooling and a linear classifier. Where a stage halves the size and doubles
// the channels, the shortcut is option A (subsample and pad with zero channels: no
// parameters) or option B (1x1 convolution and BatchNorm projection).
import { ReLU } from '../nn/activation.js';
import { Flatten, Identity } from '../nn/basic.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { AdaptiveAvgPool2d } from '../nn/pooling.js';
import { Sequential } from '../nn/sequential.js';
import { pad } from '../torch/functional.js';
import { native } from '../native.js';
import { tidy } from '../torch/scope.js';
import { Tensor } from '../torch/tensor.js';
import { ImageClassifier } from './classifier.js';
import type { ConvBnPairs } from './fuse.js';
import { conv1x1, conv3x3, initResNetWeights, runChain, Stage } from './layers.js';
import { checkBoolean, checkChoice, checkInteger, checkIntegerList, commonOptionNames, rejectUnknownOptions } from './options.js';
import { registerFamily, registerModel, type ModelConfig, type ModelOptions } from './registry.js';
import { BasicBlock } from './resnet-blocks.js';

export type ShortcutOption = 'A' | 'B';

export interface CifarResNetConfig extends ModelConfig {
  family: 'cifar_resnet';
  name?: string;
  /** Layers with weights: 6n + 2 for three stages (20, 32, 44, 56, 110, 1202). */
  depth: number;
  /** Channels per stage. */
  widths?: number[];
  shortcut?: ShortcutOption;
  numClasses?: number;
  inChans?: number;
  zeroInitResidual?: boolean;
}

export type ResolvedCifarResNetConfig = Required<CifarResNetConfig>;

export function resolveCifarResNetConfig(config: CifarResNetConfig): ResolvedCifarResNetConfig {
  const name = config.name ?? `cifar_resnet${config.depth}`;
  const widths = checkIntegerList(name, 'widths', config.widths ?? [16, 32, 64], 1);
  const depth = checkInteger(name, 'depth', config.depth, 2 * widths.length + 2);
  if ((depth - 2) % (2 * widths.length) !== 0) {
    throw new Error(`${name}: depth must be ${2 * widths.length}n + 2 with ${widths.length} stages (20, 32, 44, 56, 110 for three), got ${depth}`);
  }
  return {
    family: 'cifar_resnet',
    name,
    depth,
    widths,
    shortcut: checkChoice(name, 'shortcut', config.shortcut ?? 'A', ['A', 'B'] as const),
    numClasses: checkInteger(name, 'numClasses', config.numClasses ?? 10, 0),
    inChans: checkInteger(name, 'inChans', config.inChans ?? 3, 1),
    zeroInitResidual: checkBoolean(name, 'zeroInitResidual', config.zeroInitResidual ?? false),
  };
}

/**
 * Option A: the identity, subsampled by the stride and padded with zero channels
 * after the input's, so the shortcut has no parameters.
 */
export class ZeroPadShortcut extends Module {
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly stride: number,
  ) {
    super();
    if (outChannels < inChannels) throw new Error(`ZeroPadShortcut cannot reduce channels (${inChannels} -> ${outChannels})`);
  }
  forward(input: Tensor): Tensor {
    // oneDNN's blocked layout (inference with packed weights) has no strided views:
    // the shortcut works on a dense copy there and hands back the same layout.
    if (native.isMkldnn(input.handle)) {
      return tidy(() => new Tensor(native.toMkldnn(this.forward(new Tensor(native.toDense(input.handle))).handle)));
    }
    const subsampled = this.stride > 1 ? input.slice(2, 0, undefined, this.stride).slice(3, 0, undefined, this.stride) : input;
    return pad(subsampled, [0, 0, 0, 0, 0, this.outChannels - this.inChannels]);
  }
}

export class CifarResNet extends ImageClassifier implements ConvBnPairs {
  readonly config: ResolvedCifarResNetConfig;
  readonly numFeatures: number;
  readonly conv1: Conv2d;
  readonly bn1: Module;
  readonly relu: ReLU;
  readonly stages: Stage[] = [];
  readonly avgpool: AdaptiveAvgPool2d;
  readonly flatten = new Flatten(1);
  readonly fc: Module;

  constructor(config: CifarResNetConfig, options: { init?: boolean } = {}) {
    const resolved = resolveCifarResNetConfig(config);
    super(resolved.name, resolved.inChans, resolved.numClasses);
    this.config = resolved;
    const { widths, shortcut } = resolved;
    const blocksPerStage = (resolved.depth - 2) / (2 * widths.length);
    this.conv1 = this.registerModule('conv1', conv3x3(resolved.inChans, widths[0]));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(widths[0]));
    this.relu = this.registerModule('relu', new ReLU(true));
    let channels = widths[0];
    widths.forEach((width, i) => {
      const stride = i === 0 ? 1 : 2;
      const changes = stride !== 1 || channels !== width;
      const downsample = !changes
        ? null
        : shortcut === 'A'
          ? new ZeroPadShortcut(channels, width, stride)
          : new Sequential(conv1x1(channels, width, stride), new BatchNorm2d(width));
      const stage = new Stage(new BasicBlock(channels, width, { stride, downsample }));
      for (let b = 1; b < blocksPerStage; b++) stage.append(new BasicBlock(width, width));
      this.stages.push(this.registerModule(`layer${i + 1}`, stage));
      channels = width;
    });
    this.numFeatures = channels;
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', resolved.numClasses > 0 ? new Linear(channels, resolved.numClasses) : new Identity());
    if (options.init ?? true) initResNetWeights(this, resolved.zeroInitResidual, 'fanIn');
  }

  convBnPairs(): [string, string][] {
    return [['conv1', 'bn1']];
  }

  protected features(input: Tensor): Tensor {
    return this.runUnits(input, [[this.conv1, this.bn1, this.relu], ...this.stages.flatMap((stage) => [...stage])]);
  }

  protected head(features: Tensor): Tensor {
    return runChain(features, [this.avgpool, this.flatten, this.fc]);
  }

  clone(): CifarResNet {
    return this.copyStateInto(new CifarResNet(this.config, { init: false }));
  }

  override describe(): string {
    const c = this.config;
    return `${c.name} (CifarResNet, depth ${c.depth}, widths [${c.widths.join(', ')}], shortcut option ${c.shortcut}, inChans ${c.inChans}, numClasses ${c.numClasses})`;
  }
}

/** Options a registered CIFAR ResNet accepts. */
export interface CifarResNetOptions extends ModelOptions {
  shortcut?: ShortcutOption;
  zeroInitResidual?: boolean;
}

const acceptedOptions = [...commonOptionNames, 'shortcut', 'zeroInitResidual'];
const cifar10 = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

for (const depth of [20, 32, 44, 56, 110]) {
  const name = `resnet${depth}`;
  registerModel(
    {
      name,
      family: 'cifar_resnet',
      paper: 'He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016 (arXiv:1512.03385), section 4.2',
      defaultInputSize: [3, 32, 32],
      ...cifar10,
      numClasses: 10,
      description: `CIFAR ResNet-${depth}: 3 stages of ${(depth - 2) / 6} basic blocks, 16-32-64 channels`,
    },
    (modelName: string, options: CifarResNetOptions): CifarResNet => {
      rejectUnknownOptions(modelName, options, acceptedOptions);
      const { init, ...overrides } = options;
      const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
      return new CifarResNet({ family: 'cifar_resnet', depth, ...defined, name: modelName }, { init: init as boolean | undefined });
    },
  );
}

registerFamily('cifar_resnet', (config: ModelConfig): ImageClassifier => new CifarResNet(config as CifarResNetConfig));
