// DenseNet (Huang, Liu, van der Maaten, Weinberger 2017): inside a dense block every
// layer sees the concatenation of all earlier outputs and adds `growthRate` channels;
// transitions (BatchNorm, ReLU, 1x1 convolution, 2x2 average pooling) compress the
// channels and halve the size between blocks. Laid out as torchvision's densenet.py, so
// keys read `features.denseblock1.denselayer1.norm1.weight`, `features.transition1.conv`,
// `features.norm5`, `classifier`.
import { ReLU } from '../nn/activation.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { constant_, kaimingNormal_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { AvgPool2d, MaxPool2d } from '../nn/pooling.js';
import { Sequential } from '../nn/sequential.js';
import type { StateDict } from '../io/types.js';
import { checkpoint } from '../torch/checkpoint.js';
import { cat, dropout } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { ClassifierHead } from '../layers/classifier-head.js';
import { inlineInto } from '../layers/inline.js';
import { ImageClassifier, type FeatureInfo, type GradCheckpointingOptions, type ResolvedCommonConfig, type TrunkStep } from './classifier.js';
import { defineFamily, type CommonConfig } from './family.js';
import { runChain } from './layers.js';
import { checkBoolean, checkChoice, checkInteger, checkIntegerList, checkNumber, commonOptionKinds, resolveCommonOptions } from './options.js';
import { imagenetInput } from './resnet.js';

/** A DenseNet as plain data: everything that decides its layers. */
export interface DenseNetConfig extends CommonConfig {
  family?: 'densenet';
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
  /**
   * Dropout after each dense layer's 3x3 convolution (torchvision's drop_rate, timm's
   * proj_drop_rate); the common dropRate is the dropout before the classifier.
   */
  denseDropRate?: number;
  /** 'imagenet': 7x7 stride-2 convolution, BatchNorm, ReLU, 3x3 max-pool; 'cifar': one 3x3 convolution. */
  stem?: 'imagenet' | 'cifar';
  /** Recompute each dense layer's concatenation, norm, ReLU and 1x1 convolution in backward. */
  memoryEfficient?: boolean;
}

export type ResolvedDenseNetConfig = Required<DenseNetConfig> & ResolvedCommonConfig & { family: 'densenet' };

export function resolveDenseNetConfig(config: DenseNetConfig): ResolvedDenseNetConfig {
  const name = config.name ?? 'densenet';
  const stem = checkChoice(name, 'stem', config.stem ?? 'imagenet', ['imagenet', 'cifar'] as const);
  const blockConfig = checkIntegerList(name, 'blockConfig', config.blockConfig, 1);
  // Transitions halve the size between blocks; the ImageNet stem divides by 4. No dilation.
  const natural = (stem === 'imagenet' ? 4 : 1) * 2 ** (blockConfig.length - 1);
  const common = resolveCommonOptions(name, config, { numClasses: 1000, outputStride: natural, outputStrides: [natural] });
  if (common.dropPathRate !== 0) throw new Error(`${name}: dropPathRate does not apply to DenseNet (no residual branches); use denseDropRate or dropRate`);
  const compression = config.compression ?? 0.5;
  if (typeof compression !== 'number' || !(compression > 0 && compression <= 1)) {
    throw new Error(`${name}: compression must be a number in (0, 1], got ${JSON.stringify(config.compression)}`);
  }
  return {
    ...common,
    family: 'densenet',
    growthRate: checkInteger(name, 'growthRate', config.growthRate, 1),
    blockConfig,
    numInitFeatures: checkInteger(name, 'numInitFeatures', config.numInitFeatures, 1),
    bnSize: checkInteger(name, 'bnSize', config.bnSize ?? 4, 1),
    compression,
    denseDropRate: checkNumber(name, 'denseDropRate', config.denseDropRate ?? 0, 0, 1),
    stem,
    memoryEfficient: checkBoolean(name, 'memoryEfficient', config.memoryEfficient ?? false),
  };
}

/** BN-ReLU-Conv(1x1) bottleneck, then BN-ReLU-Conv(3x3) giving growthRate channels. */
export class DenseLayer extends Module<Tensor[], Tensor> {
  readonly norm1: BatchNorm2d;
  readonly relu1 = new ReLU(true);
  readonly conv1: Conv2d;
  readonly norm2: BatchNorm2d;
  readonly relu2 = new ReLU(true);
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
    this.append(new ReLU(true), 'relu');
    this.append(new Conv2d(inChannels, outChannels, 1, { bias: false }), 'conv');
    this.append(new AvgPool2d(2, { stride: 2 }), 'pool');
  }
}

export class DenseNet extends ImageClassifier<ResolvedDenseNetConfig> {
  readonly classifierHead: ClassifierHead;
  readonly featureInfo: FeatureInfo[] = [];
  /** conv0 [norm0 relu0 pool0] denseblock1 transition1 ... denseblockN norm5 relu5, as torchvision's `features`. */
  readonly featureLayers: Sequential;

  constructor(config: DenseNetConfig, options: { init?: boolean } = {}) {
    const resolved = resolveDenseNetConfig(config);
    super(resolved);
    const { growthRate, bnSize, denseDropRate, memoryEfficient, numInitFeatures: stemWidth } = resolved;
    const entries: [string, Module][] =
      resolved.stem === 'imagenet'
        ? [
            ['conv0', new Conv2d(resolved.inChans, stemWidth, 7, { stride: 2, padding: 3, bias: false })],
            ['norm0', new BatchNorm2d(stemWidth)],
            ['relu0', new ReLU(true)],
            ['pool0', new MaxPool2d(3, { stride: 2, padding: 1 })],
          ]
        : [['conv0', new Conv2d(resolved.inChans, stemWidth, 3, { padding: 1, bias: false })]];
    let reduction = resolved.stem === 'imagenet' ? 2 : 1;
    this.featureInfo.push({ numChs: stemWidth, reduction, module: resolved.stem === 'imagenet' ? 'features.relu0' : 'features.conv0' });
    if (resolved.stem === 'imagenet') reduction *= 2;
    let channels = stemWidth;
    resolved.blockConfig.forEach((layers, i) => {
      entries.push([`denseblock${i + 1}`, new DenseBlock(layers, channels, growthRate, bnSize, denseDropRate, memoryEfficient)]);
      channels += layers * growthRate;
      if (i === resolved.blockConfig.length - 1) return;
      // A block's output before its transition (which compresses and halves it), as timm's feature_info.
      this.featureInfo.push({ numChs: channels, reduction, module: `features.denseblock${i + 1}` });
      const compressed = Math.floor(channels * resolved.compression);
      entries.push([`transition${i + 1}`, new Transition(channels, compressed)]);
      channels = compressed;
      reduction *= 2;
    });
    // torchvision applies a ReLU after norm5 in forward; here it is the trunk's last step (no keys).
    entries.push(['norm5', new BatchNorm2d(channels)], ['relu5', new ReLU(true)]);
    this.featureInfo.push({ numChs: channels, reduction, module: 'features.relu5' });
    this.featureLayers = this.registerModule('features', Sequential.fromEntries(entries));
    this.classifierHead = inlineInto(this, new ClassifierHead(channels, resolved.numClasses, {
      globalPool: resolved.globalPool,
      dropRate: resolved.dropRate,
      names: { fc: 'classifier' },
    }));
    if (options.init ?? true) initDenseNetWeights(this);
  }

  trunk(): TrunkStep[] {
    return [...this.featureLayers.namedChildren()].map(([name, module]) => [`features.${name}`, module as Module]);
  }

  /**
   * Checkpointing in DenseNet is first of all inside each dense layer: with `true`, its
   * concatenation, norm1, relu1 and conv1 are recomputed in backward (torchvision's
   * memory_efficient, timm's grad_checkpointing); that halves a step's peak at the cost
   * of the 1x1 convolutions once more. `{ segments: N }` also checkpoints the trunk in N
   * segments (stem, blocks, transitions), for the largest saving at a higher cost.
   */
  override setGradCheckpointing(enable: boolean | GradCheckpointingOptions = true): this {
    super.setGradCheckpointing(enable);
    const recompute = this.gradCheckpointing !== null || this.config.memoryEfficient;
    for (const [, module] of this.namedModules()) if (module instanceof DenseLayer) module.recomputeBottleneck = recompute;
    return this;
  }

  protected override runTrunk(input: Tensor, steps: TrunkStep[]): Tensor {
    if (this.gradCheckpointing?.segments === null) return runChain(input, steps.map(([, module]) => module));
    return super.runTrunk(input, steps);
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

const cifar10 = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

/** DenseNet-BC for CIFAR (the paper's Table 2): depth L, growth rate k; (L - 4) / 6 layers per block, 2k stem channels. */
function denseNetBC(depth: number, growthRate: number) {
  const layers = (depth - 4) / 6;
  return {
    config: { growthRate, blockConfig: [layers, layers, layers], numInitFeatures: 2 * growthRate, stem: 'cifar' as const, compression: 0.5, numClasses: 10 },
    description: `DenseNet-BC L=${depth} k=${growthRate}: 3x3 stem, 3 blocks of ${layers} bottleneck layers, compression 0.5`,
    paper: 'Huang, Liu, van der Maaten, Weinberger. Densely Connected Convolutional Networks. CVPR 2017 (arXiv:1608.06993), Table 2',
    pretrained: { inputSize: [3, 32, 32] as [number, number, number], ...cifar10, cropPct: 1, numClasses: 10 },
  };
}

export const denseNetFamily = defineFamily({
  family: 'densenet',
  title: 'DenseNet',
  paper: 'Huang, Liu, van der Maaten, Weinberger. Densely Connected Convolutional Networks. CVPR 2017 (arXiv:1608.06993)',
  options: {
    ...commonOptionKinds,
    growthRate: 'integer >= 1 (channels each dense layer adds)',
    blockConfig: 'list of integers >= 1 (dense layers per block)',
    numInitFeatures: 'integer >= 1 (stem channels)',
    bnSize: 'integer >= 1 (bottleneck width in growth rates)',
    compression: 'number in (0, 1] (channels a transition keeps)',
    denseDropRate: 'number in [0, 1) (dropout after each dense layer)',
    stem: "'imagenet' | 'cifar'",
    memoryEfficient: 'boolean',
  },
  resolve: resolveDenseNetConfig,
  build: (config: ResolvedDenseNetConfig, options) => new DenseNet(config, options),
  describe: (c: ResolvedDenseNetConfig) =>
    `growthRate ${c.growthRate}, blockConfig [${c.blockConfig.join(', ')}], numInitFeatures ${c.numInitFeatures}, bnSize ${c.bnSize}, compression ${c.compression}, ${c.stem} stem`,
  pretrained: () => ({ ...imagenetInput, firstConv: 'features.conv0', classifier: 'classifier' }),
  filterStateDict: (dict: StateDict) => filterTorchvisionDenseNetKeys(dict),
  variants: {
    densenet121: { config: { growthRate: 32, blockConfig: [6, 12, 24, 16], numInitFeatures: 64 }, description: 'DenseNet-121: k=32, blocks 6-12-24-16' },
    densenet161: { config: { growthRate: 48, blockConfig: [6, 12, 36, 24], numInitFeatures: 96 }, description: 'DenseNet-161: k=48, blocks 6-12-36-24' },
    densenet169: { config: { growthRate: 32, blockConfig: [6, 12, 32, 32], numInitFeatures: 64 }, description: 'DenseNet-169: k=32, blocks 6-12-32-32' },
    densenet201: { config: { growthRate: 32, blockConfig: [6, 12, 48, 32], numInitFeatures: 64 }, description: 'DenseNet-201: k=32, blocks 6-12-48-32' },
    densenet_bc_100_12: denseNetBC(100, 12),
    densenet_bc_250_24: denseNetBC(250, 24),
    densenet_bc_190_40: denseNetBC(190, 40),
  },
});
