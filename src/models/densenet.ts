// DenseNet (Huang, Liu, van der Maaten, Weinberger 2017): inside a dense block every
// layer sees the concatenation of all earlier outputs and adds `growthRate` channels;
// transitions (BatchNorm, ReLU, 1x1 convolution, 2x2 average pooling) compress the
// channels and halve the size between blocks. Laid out as torchvision's densenet.py, so
// keys read `features.denseblock1.denselayer1.norm1.weight`, `features.transition1.conv`,
// `features.norm5`, `classifier`.
import { ReLU } from '../nn/activation.js';
import { Identity } from '../nn/basic.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { constant_, kaimingNormal_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import type { StateDict } from '../io/types.js';
import { Module, type LoadResult } from '../nn/module.js';
import { AvgPool2d, MaxPool2d } from '../nn/pooling.js';
import { Sequential } from '../nn/sequential.js';
import { checkpoint } from '../torch/checkpoint.js';
import { adaptiveAvgPool2d, cat, dropout, relu } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { ImageClassifier, type GradCheckpointingOptions } from './classifier.js';
import { checkBoolean, checkChoice, checkInteger, checkIntegerList, commonOptionNames, rejectUnknownOptions } from './options.js';
import { registerFamily, registerModel, type ModelConfig, type ModelOptions } from './registry.js';
import { imagenetInput } from './resnet-zoo.js';

/** A DenseNet as plain data: everything that decides its layers. */
export interface DenseNetConfig extends ModelConfig {
  family?: 'densenet';
  name?: string;
  /** Channels each dense layer adds (k): 32 for densenet121, 12 for DenseNet-BC-100. */
  growthRate: number;
  /** Dense layers per block: [6, 12, 24, 16] for densenet121. */
  blockConfig: number[];
  /** Channels of the stem convolution: 64 for densenet121, 2k for DenseNet-BC. */
  numInitFeatures: number;
  /** The bottleneck's 1x1 convolution gives bnSize * growthRate channels. */
  bnSize?: number;
  /** Fraction of channels a transition keeps (theta; 0.5 in DenseNet-BC). */
  compression?: number;
  /** Dropout after each dense layer's 3x3 convolution. */
  dropRate?: number;
  /** 'imagenet': 7x7 stride-2 convolution, BatchNorm, ReLU, 3x3 max-pool; 'cifar': one 3x3 convolution. */
  stem?: 'imagenet' | 'cifar';
  /** Recompute each dense layer's concatenation, norm, ReLU and 1x1 convolution in backward. */
  memoryEfficient?: boolean;
  numClasses?: number;
  inChans?: number;
}

export type ResolvedDenseNetConfig = Required<DenseNetConfig>;

export function resolveDenseNetConfig(config: DenseNetConfig): ResolvedDenseNetConfig {
  const name = config.name ?? 'densenet';
  const compression = config.compression ?? 0.5;
  if (typeof compression !== 'number' || !(compression > 0 && compression <= 1)) {
    throw new Error(`${name}: compression must be a number in (0, 1], got ${JSON.stringify(config.compression)}`);
  }
  const dropRate = config.dropRate ?? 0;
  if (typeof dropRate !== 'number' || !(dropRate >= 0 && dropRate < 1)) {
    throw new Error(`${name}: dropRate must be a number in [0, 1), got ${JSON.stringify(config.dropRate)}`);
  }
  return {
    family: 'densenet',
    name,
    growthRate: checkInteger(name, 'growthRate', config.growthRate, 1),
    blockConfig: checkIntegerList(name, 'blockConfig', config.blockConfig, 1),
    numInitFeatures: checkInteger(name, 'numInitFeatures', config.numInitFeatures, 1),
    bnSize: checkInteger(name, 'bnSize', config.bnSize ?? 4, 1),
    compression,
    dropRate,
    stem: checkChoice(name, 'stem', config.stem ?? 'imagenet', ['imagenet', 'cifar'] as const),
    memoryEfficient: checkBoolean(name, 'memoryEfficient', config.memoryEfficient ?? false),
    numClasses: checkInteger(name, 'numClasses', config.numClasses ?? 1000, 0),
    inChans: checkInteger(name, 'inChans', config.inChans ?? 3, 1),
  };
}

/** BN-ReLU-Conv(1x1) bottleneck, then BN-ReLU-Conv(3x3) giving growthRate channels. */
export class DenseLayer extends Module<Tensor[], Tensor> {
  readonly norm1: BatchNorm2d;
  readonly relu1 = new ReLU();
  readonly conv1: Conv2d;
  readonly norm2: BatchNorm2d;
  readonly relu2 = new ReLU();
  readonly conv2: Conv2d;

  constructor(
    inChannels: number,
    growthRate: number,
    bnSize: number,
    readonly dropRate: number,
    /** Recompute the concatenation, norm1, relu1 and conv1 in backward (memoryEfficient, or checkpointing on). */
    public recomputeBottleneck: boolean,
  ) {
    super();
    this.norm1 = this.registerModule('norm1', new BatchNorm2d(inChannels));
    this.registerModule('relu1', this.relu1);
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, bnSize * growthRate, 1, { bias: false }));
    this.norm2 = this.registerModule('norm2', new BatchNorm2d(bnSize * growthRate));
    this.registerModule('relu2', this.relu2);
    this.conv2 = this.registerModule('conv2', new Conv2d(bnSize * growthRate, growthRate, 3, { padding: 1, bias: false }));
  }

  #bottleneck(features: Tensor[]): Tensor {
    return this.conv1.call(this.relu1.call(this.norm1.call(cat(features, 1))));
  }

  /** Takes every earlier feature map of the block; returns the new one. */
  forward(features: Tensor[]): Tensor {
    // The concatenation is the big activation: in memory-efficient mode it and the
    // bottleneck's norm and ReLU are recomputed in backward instead of kept.
    const bottleneck = this.recomputeBottleneck && this.training
      ? checkpoint((inputs) => [this.#bottleneck(inputs)], features)[0]
      : this.#bottleneck(features);
    const out = this.conv2.call(this.relu2.call(this.norm2.call(bottleneck)));
    return this.dropRate > 0 ? dropout(out, this.dropRate, this.training) : out;
  }
}

/** `layers` dense layers, keyed denselayer1, denselayer2, ...; returns the concatenation of all. */
export class DenseBlock extends Module {
  readonly layers: DenseLayer[] = [];

  constructor(layers: number, inChannels: number, growthRate: number, bnSize: number, dropRate: number, memoryEfficient: boolean) {
    super();
    for (let i = 0; i < layers; i++) {
      const layer = new DenseLayer(inChannels + i * growthRate, growthRate, bnSize, dropRate, memoryEfficient);
      this.layers.push(this.registerModule(`denselayer${i + 1}`, layer));
    }
  }

  forward(input: Tensor): Tensor {
    const features = [input];
    for (const layer of this.layers) features.push(layer.call(features));
    return cat(features, 1);
  }
}

/** BN, ReLU, 1x1 convolution to `outChannels`, 2x2 average pooling. */
export class Transition extends Sequential {
  constructor(inChannels: number, outChannels: number) {
    super();
    this.append(new BatchNorm2d(inChannels), 'norm');
    this.append(new ReLU(), 'relu');
    this.append(new Conv2d(inChannels, outChannels, 1, { bias: false }), 'conv');
    this.append(new AvgPool2d(2, { stride: 2 }), 'pool');
  }
}

export interface BuildOptions {
  /** false skips torchvision's initialisation (the weights are about to be loaded). */
  init?: boolean;
}

export class DenseNet extends ImageClassifier {
  readonly config: ResolvedDenseNetConfig;
  readonly numFeatures: number;
  /** conv0 [norm0 relu0 pool0] denseblock1 transition1 ... denseblockN norm5, as torchvision's `features`. */
  readonly featureLayers: Sequential;
  readonly classifier: Module;

  constructor(config: DenseNetConfig, options: BuildOptions = {}) {
    const resolved = resolveDenseNetConfig(config);
    super(resolved.name, resolved.inChans, resolved.numClasses);
    this.config = resolved;
    const { growthRate, bnSize, dropRate, memoryEfficient, numInitFeatures: stemWidth } = resolved;
    const entries: [string, Module][] =
      resolved.stem === 'imagenet'
        ? [
            ['conv0', new Conv2d(resolved.inChans, stemWidth, 7, { stride: 2, padding: 3, bias: false })],
            ['norm0', new BatchNorm2d(stemWidth)],
            ['relu0', new ReLU()],
            ['pool0', new MaxPool2d(3, { stride: 2, padding: 1 })],
          ]
        : [['conv0', new Conv2d(resolved.inChans, stemWidth, 3, { padding: 1, bias: false })]];
    let channels = stemWidth;
    resolved.blockConfig.forEach((layers, i) => {
      entries.push([`denseblock${i + 1}`, new DenseBlock(layers, channels, growthRate, bnSize, dropRate, memoryEfficient)]);
      channels += layers * growthRate;
      if (i === resolved.blockConfig.length - 1) return;
      const compressed = Math.floor(channels * resolved.compression);
      entries.push([`transition${i + 1}`, new Transition(channels, compressed)]);
      channels = compressed;
    });
    entries.push(['norm5', new BatchNorm2d(channels)]);
    this.featureLayers = this.registerModule('features', Sequential.fromEntries(entries));
    this.numFeatures = channels;
    this.classifier = this.registerModule('classifier', resolved.numClasses > 0 ? new Linear(channels, resolved.numClasses) : new Identity());
    if (options.init ?? true) initDenseNetWeights(this);
  }

  // Checkpointing segments the stem (kept together), each dense block, transition and norm5.
  protected features(input: Tensor): Tensor {
    const layers = [...this.featureLayers];
    const stemLength = this.config.stem === 'imagenet' ? 4 : 1;
    return this.runUnits(input, [layers.slice(0, stemLength), ...layers.slice(stemLength)]);
  }

  // torchvision applies the final ReLU in forward, after features.norm5.
  protected head(features: Tensor): Tensor {
    const pooled = adaptiveAvgPool2d(relu(features), 1).flatten(1);
    return this.classifier.call(pooled);
  }

  /**
   * As ImageClassifier's, and inside dense blocks each layer's bottleneck is recomputed
   * too while checkpointing is on (a block is one segment, and its concatenations are
   * most of its memory), as timm's DenseNet does.
   */
  override setGradCheckpointing(enable: boolean | GradCheckpointingOptions = true): this {
    super.setGradCheckpointing(enable);
    const recompute = this.gradCheckpointing !== null || this.config.memoryEfficient;
    for (const [, module] of this.namedModules()) if (module instanceof DenseLayer) module.recomputeBottleneck = recompute;
    return this;
  }

  /** As ImageClassifier.loadStateDict; old torchvision keys (`denselayer1.norm.1.weight`) are renamed first. */
  override loadStateDict(dict: StateDict, options: { strict?: boolean } = {}): LoadResult {
    return super.loadStateDict(filterTorchvisionDenseNetKeys(dict), options);
  }

  clone(): DenseNet {
    return this.copyStateInto(new DenseNet(this.config, { init: false }));
  }

  override describe(): string {
    const c = this.config;
    return `${c.name} (DenseNet, growthRate ${c.growthRate}, blockConfig [${c.blockConfig.join(', ')}], numInitFeatures ${c.numInitFeatures}, ${c.stem} stem, inChans ${c.inChans}, numClasses ${c.numClasses})`;
  }
}

/** torchvision's DenseNet initialisation: He-normal convolutions (fan-in), BatchNorm 1 and 0, Linear bias 0. */
export function initDenseNetWeights(model: Module<unknown, unknown>): void {
  for (const [, module] of model.namedModules()) {
    if (module instanceof Conv2d) kaimingNormal_(module.weight);
    else if (module instanceof BatchNorm2d) {
      if (module.weight) constant_(module.weight, 1);
      if (module.bias) constant_(module.bias, 0);
    } else if (module instanceof Linear && module.bias) constant_(module.bias, 0);
  }
}

/**
 * torchvision's first DenseNet checkpoints name dense-layer modules `norm.1`, `conv.2`
 * (`features.denseblock1.denselayer1.norm.1.weight`); today's keys read `norm1`, `conv2`.
 * Returns `dict` with old keys renamed and every other key as it was.
 */
export function filterTorchvisionDenseNetKeys<T>(dict: Record<string, T>): Record<string, T> {
  const oldKey = /^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.(weight|bias|running_mean|running_var)$/;
  const renamed: Record<string, T> = {};
  for (const [key, value] of Object.entries(dict)) {
    const match = oldKey.exec(key);
    renamed[match ? `${match[1]}${match[2]}.${match[3]}` : key] = value;
  }
  return renamed;
}

const paper = 'Huang, Liu, van der Maaten, Weinberger. Densely Connected Convolutional Networks. CVPR 2017 (arXiv:1608.06993)';

type DenseNetTableEntry = Pick<DenseNetConfig, 'growthRate' | 'blockConfig' | 'numInitFeatures'> & { description: string };

/** torchvision's four ImageNet DenseNets. */
export const denseNetConfigs: Record<string, DenseNetTableEntry> = {
  densenet121: { growthRate: 32, blockConfig: [6, 12, 24, 16], numInitFeatures: 64, description: 'DenseNet-121: k=32, blocks 6-12-24-16' },
  densenet161: { growthRate: 48, blockConfig: [6, 12, 36, 24], numInitFeatures: 96, description: 'DenseNet-161: k=48, blocks 6-12-36-24' },
  densenet169: { growthRate: 32, blockConfig: [6, 12, 32, 32], numInitFeatures: 64, description: 'DenseNet-169: k=32, blocks 6-12-32-32' },
  densenet201: { growthRate: 32, blockConfig: [6, 12, 48, 32], numInitFeatures: 64, description: 'DenseNet-201: k=32, blocks 6-12-48-32' },
};

/** DenseNet-BC for CIFAR (the paper's Table 2): depth L and growth rate k; (L - 4) / 6 layers per block, 2k stem channels. */
export const denseNetBcConfigs: Record<string, { depth: number; growthRate: number }> = {
  densenet_bc_100_12: { depth: 100, growthRate: 12 },
  densenet_bc_250_24: { depth: 250, growthRate: 24 },
  densenet_bc_190_40: { depth: 190, growthRate: 40 },
};

/** Options a registered DenseNet accepts on top of its table entry. */
export interface DenseNetOptions extends ModelOptions {
  growthRate?: number;
  bnSize?: number;
  compression?: number;
  dropRate?: number;
  memoryEfficient?: boolean;
}

const acceptedOptions = [...commonOptionNames, 'growthRate', 'bnSize', 'compression', 'dropRate', 'memoryEfficient'];

function buildWith(base: DenseNetConfig) {
  return (name: string, options: DenseNetOptions): DenseNet => {
    rejectUnknownOptions(name, options, acceptedOptions);
    const { init, ...overrides } = options;
    const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
    return new DenseNet({ ...base, ...defined, name }, { init: init as boolean | undefined });
  };
}

for (const [name, { description, ...config }] of Object.entries(denseNetConfigs)) {
  registerModel({ name, family: 'densenet', paper, description, ...imagenetInput }, buildWith(config));
}

const cifar10 = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
for (const [name, { depth, growthRate }] of Object.entries(denseNetBcConfigs)) {
  const layers = (depth - 4) / 6;
  registerModel(
    {
      name,
      family: 'densenet',
      paper: `${paper}, Table 2`,
      defaultInputSize: [3, 32, 32],
      ...cifar10,
      numClasses: 10,
      description: `DenseNet-BC L=${depth} k=${growthRate}: 3x3 stem, 3 blocks of ${layers} bottleneck layers, compression 0.5`,
    },
    buildWith({ growthRate, blockConfig: [layers, layers, layers], numInitFeatures: 2 * growthRate, stem: 'cifar', compression: 0.5, numClasses: 10 }),
  );
}

registerFamily('densenet', (config: ModelConfig): ImageClassifier => new DenseNet(config as DenseNetConfig));
