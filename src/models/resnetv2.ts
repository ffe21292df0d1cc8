// ResNet v2, pre-activation (He et al. 2016, "Identity Mappings in Deep Residual
// Networks"), in timm's resnetv2.py layout and key names: BN-ReLU (one BatchNormAct2d)
// before each convolution, the projection shortcut taken from the pre-activated input,
// a final norm before the head, and the head as a biased 1x1 convolution (`head.fc`).
// The paper's CIFAR nets (preact_resnet110, preact_resnet164) are the same blocks on a
// 3x3 stem with 16-32-64 channels.
import { Identity } from '../nn/basic.js';
import { Conv2d } from '../nn/conv.js';
import { constant_, kaimingNormal_, normal_ } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { MaxPool2d } from '../nn/pooling.js';
import { Sequential } from '../nn/sequential.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { avgDownPool } from '../layers/avg-down.js';
import { BatchNormAct2d } from '../layers/norm-act.js';
import { ClassifierHead } from '../layers/classifier-head.js';
import { DropPath, dropPathRates } from '../layers/drop-path.js';
import { makeDivisible } from '../layers/squeeze-excite.js';
import { ImageClassifier, type FeatureInfo, type ResolvedCommonConfig, type TrunkStep } from './classifier.js';
import { defineFamily, type CommonConfig, type VariantDefinition } from './family.js';
import { dilatedStages, Stage } from './layers.js';
import { checkBoolean, checkChoice, checkInteger, checkIntegerList, checkNumber, commonOptionKinds, resolveCommonOptions } from './options.js';

export type ResNetV2StemType = '' | 'deep' | 'tiered' | 'cifar';

export interface ResNetV2Config extends CommonConfig {
  family?: 'resnetv2';
  block: 'basic' | 'bottleneck';
  /** Blocks per stage. */
  depths: number[];
  /** Output channels per stage; default 64-128-256-512 (basic) or 256-512-1024-2048 (bottleneck). */
  channels?: number[];
  /** '' a 7x7 stem and max-pool; 'deep' / 'tiered' three 3x3 convolutions; 'cifar' one 3x3 convolution, no pool. */
  stemType?: ResNetV2StemType;
  /** Channels out of the stem (timm's stem_chs): default 64, 16 for 'cifar'. */
  stemWidth?: number;
  /** Shortcut projections average-pool, then a stride-1 1x1 convolution. */
  avgDown?: boolean;
  /** Width of a block's inner convolutions relative to its output: 0.25 (bottleneck), 1 (basic). */
  bottleRatio?: number;
  /** Start each block's last convolution at 0 (timm's zero_init_last), so branches begin as identities. */
  zeroInitResidual?: boolean;
}

export type ResolvedResNetV2Config = Required<ResNetV2Config> & ResolvedCommonConfig & { family: 'resnetv2' };

const stageStride = (i: number) => (i === 0 ? 1 : 2);

export function resolveResNetV2Config(config: ResNetV2Config): ResolvedResNetV2Config {
  const name = config.name ?? 'resnetv2';
  const block = checkChoice(name, 'block', config.block, ['basic', 'bottleneck'] as const);
  const depths = checkIntegerList(name, 'depths', config.depths, 1);
  const defaultChannels = depths.map((_, i) => (block === 'basic' ? 64 : 256) * 2 ** i);
  const channels = config.channels === undefined ? defaultChannels : checkIntegerList(name, 'channels', config.channels, 1, depths.length);
  const stemType = checkChoice(name, 'stemType', config.stemType ?? '', ['', 'deep', 'tiered', 'cifar'] as const);
  const stemStride = stemType === 'cifar' ? 1 : 4;
  const natural = stemStride * 2 ** (depths.length - 1);
  const outputStrides = stemType === 'cifar' ? [1, 2, 4, 8, 16, 32] : [8, 16, 32];
  const common = resolveCommonOptions(name, config, { numClasses: stemType === 'cifar' ? 10 : 1000, outputStride: natural, outputStrides });
  return {
    ...common,
    outputStride: Math.min(common.outputStride, natural),
    family: 'resnetv2',
    block,
    depths,
    channels,
    stemType,
    stemWidth: checkInteger(name, 'stemWidth', config.stemWidth ?? (stemType === 'cifar' ? 16 : 64), 1),
    avgDown: checkBoolean(name, 'avgDown', config.avgDown ?? false),
    bottleRatio: checkNumber(name, 'bottleRatio', config.bottleRatio ?? (block === 'basic' ? 1 : 0.25), 1e-6, 64),
    zeroInitResidual: checkBoolean(name, 'zeroInitResidual', config.zeroInitResidual ?? false),
  };
}

/** The projection shortcut of a pre-activation block (timm's DownsampleConv / DownsampleAvg; `norm` an Identity). */
class PreActDownsample extends Module {
  readonly pool: Module | null = null;
  readonly conv: Conv2d;
  readonly norm: Module;

  constructor(inChannels: number, outChannels: number, stride: number, dilation: number, avgDown: boolean) {
    super();
    if (avgDown) this.pool = this.registerModule('pool', avgDownPool(stride, dilation));
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, 1, { stride: avgDown ? 1 : stride, bias: false }));
    this.norm = this.registerModule('norm', new Identity());
  }

  forward(input: Tensor): Tensor {
    return tidy(() => this.norm.call(this.conv.call(this.pool ? this.pool.call(input) : input)));
  }
}

interface PreActBlockOptions {
  stride: number;
  dilation: number;
  firstDilation: number;
  bottleRatio: number;
  /** The stage's first block projects its shortcut (a basic block only when the shape changes). */
  first: boolean;
  avgDown: boolean;
  dropPath: number;
}

const conv3x3 = (inChannels: number, outChannels: number, stride: number, dilation: number) =>
  new Conv2d(inChannels, outChannels, 3, { stride, padding: dilation, dilation, bias: false });
const conv1x1 = (inChannels: number, outChannels: number) => new Conv2d(inChannels, outChannels, 1, { bias: false });

/**
 * Shared by both pre-activation blocks: norm1 first, the shortcut from its output,
 * drop-path, the add. Children are registered in timm's order: downsample, the
 * norm/conv pairs, drop_path.
 */
abstract class PreActBlock extends Module {
  readonly downsample: PreActDownsample | null;
  dropPath: DropPath | null = null;
  abstract readonly norm1: BatchNormAct2d;
  abstract readonly lastConv: Conv2d;

  constructor(inChannels: number, outChannels: number, options: PreActBlockOptions, project: boolean) {
    super();
    this.downsample = project ? this.registerModule('downsample', new PreActDownsample(inChannels, outChannels, options.stride, options.dilation, options.avgDown)) : null;
  }

  protected addDropPath(rate: number): void {
    if (rate > 0) this.dropPath = this.registerModule('drop_path', new DropPath(rate));
  }

  /** The residual branch from the pre-activated input. */
  protected abstract branch(preact: Tensor): Tensor;

  forward(input: Tensor): Tensor {
    return tidy(() => {
      const preact = this.norm1.call(input);
      const shortcut = this.downsample ? this.downsample.call(preact) : input;
      let x = this.branch(preact);
      if (this.dropPath) x = this.dropPath.call(x);
      return x.add_(shortcut);
    });
  }
}

/** timm's PreActBasic: norm1, 3x3 conv1 (strides), norm2, 3x3 conv2. */
export class PreActBasic extends PreActBlock {
  readonly norm1: BatchNormAct2d;
  readonly conv1: Conv2d;
  readonly norm2: BatchNormAct2d;
  readonly conv2: Conv2d;

  constructor(inChannels: number, outChannels: number, options: PreActBlockOptions) {
    const changes = options.stride !== 1 || options.firstDilation !== options.dilation || inChannels !== outChannels;
    super(inChannels, outChannels, options, options.first && changes);
    const mid = makeDivisible(outChannels * options.bottleRatio);
    this.norm1 = this.registerModule('norm1', new BatchNormAct2d(inChannels));
    this.conv1 = this.registerModule('conv1', conv3x3(inChannels, mid, options.stride, options.firstDilation));
    this.norm2 = this.registerModule('norm2', new BatchNormAct2d(mid));
    this.conv2 = this.registerModule('conv2', conv3x3(mid, outChannels, 1, options.dilation));
    this.addDropPath(options.dropPath);
  }
  get lastConv(): Conv2d {
    return this.conv2;
  }
  protected branch(preact: Tensor): Tensor {
    return this.conv2.call(this.norm2.call(this.conv1.call(preact)));
  }
}

/** timm's PreActBottleneck: norm1, 1x1 conv1, norm2, 3x3 conv2 (strides), norm3, 1x1 conv3. */
export class PreActBottleneck extends PreActBlock {
  readonly norm1: BatchNormAct2d;
  readonly conv1: Conv2d;
  readonly norm2: BatchNormAct2d;
  readonly conv2: Conv2d;
  readonly norm3: BatchNormAct2d;
  readonly conv3: Conv2d;

  constructor(inChannels: number, outChannels: number, options: PreActBlockOptions) {
    super(inChannels, outChannels, options, options.first);
    const mid = makeDivisible(outChannels * options.bottleRatio);
    this.norm1 = this.registerModule('norm1', new BatchNormAct2d(inChannels));
    this.conv1 = this.registerModule('conv1', conv1x1(inChannels, mid));
    this.norm2 = this.registerModule('norm2', new BatchNormAct2d(mid));
    this.conv2 = this.registerModule('conv2', conv3x3(mid, mid, options.stride, options.firstDilation));
    this.norm3 = this.registerModule('norm3', new BatchNormAct2d(mid));
    this.conv3 = this.registerModule('conv3', conv1x1(mid, outChannels));
    this.addDropPath(options.dropPath);
  }
  get lastConv(): Conv2d {
    return this.conv3;
  }
  protected branch(preact: Tensor): Tensor {
    return this.conv3.call(this.norm3.call(this.conv2.call(this.norm2.call(this.conv1.call(preact)))));
  }
}

/** timm's ResNetStage: its blocks under `blocks` (stages.0.blocks.0.norm1.weight). */
class ResNetV2Stage extends Module {
  readonly blocks: Stage;
  constructor(blocks: PreActBlock[]) {
    super();
    this.blocks = this.registerModule('blocks', new Stage(...blocks));
  }
  forward(input: Tensor): Tensor {
    return this.blocks.call(input);
  }
}

/** timm's create_resnetv2_stem for pre-activation nets (no norm after the last convolution), plus a CIFAR stem. */
function makeStem(config: ResolvedResNetV2Config): Sequential {
  const { inChans, stemWidth: width, stemType } = config;
  if (stemType === 'cifar') return Sequential.fromEntries([['conv', conv3x3(inChans, width, 1, 1)]]);
  const pool = new MaxPool2d(3, { stride: 2, padding: 1 });
  if (stemType === '') return Sequential.fromEntries([['conv', new Conv2d(inChans, width, 7, { stride: 2, padding: 3, bias: false })], ['pool', pool]]);
  const [first, second] = stemType === 'tiered' ? [Math.floor((3 * width) / 8), Math.floor(width / 2)] : [Math.floor(width / 2), Math.floor(width / 2)];
  return Sequential.fromEntries([
    ['conv1', conv3x3(inChans, first, 2, 1)],
    ['norm1', new BatchNormAct2d(first)],
    ['conv2', conv3x3(first, second, 1, 1)],
    ['norm2', new BatchNormAct2d(second)],
    ['conv3', conv3x3(second, width, 1, 1)],
    ['pool', pool],
  ]);
}

export class ResNetV2 extends ImageClassifier<ResolvedResNetV2Config> {
  readonly stem: Sequential;
  readonly stages: Sequential;
  readonly norm: BatchNormAct2d;
  readonly head: ClassifierHead;
  readonly featureInfo: FeatureInfo[] = [];

  constructor(config: ResNetV2Config, options: { init?: boolean } = {}) {
    const resolved = resolveResNetV2Config(config);
    super(resolved);
    const { depths, channels, stemType } = resolved;
    this.stem = this.registerModule('stem', makeStem(resolved));
    const stemStride = stemType === 'cifar' ? 1 : 4;
    this.featureInfo.push({ numChs: resolved.stemWidth, reduction: stemType === 'cifar' ? 1 : 2, module: stemType === 'deep' || stemType === 'tiered' ? 'stem.conv3' : 'stem.conv' });
    const strides = depths.map((_, i) => stageStride(i));
    const dilate = dilatedStages(strides, stemStride, resolved.outputStride);
    const rates = dropPathRates(depths, resolved.dropPathRate);
    const Block = resolved.block === 'basic' ? PreActBasic : PreActBottleneck;
    this.stages = this.registerModule('stages', new Sequential());
    let previous = resolved.stemWidth;
    let reduction = stemStride;
    let dilation = 1;
    depths.forEach((depth, i) => {
      const out = makeDivisible(channels[i]);
      let stride = strides[i];
      if (dilate[i]) {
        dilation *= stride;
        stride = 1;
      }
      // timm's ResNetStage: the first block's first dilation is 1 up to dilation 2.
      let firstDilation = dilation === 1 || dilation === 2 ? 1 : 2;
      const blocks: PreActBlock[] = [];
      for (let b = 0; b < depth; b++) {
        blocks.push(new Block(b === 0 ? previous : out, out, {
          stride: b === 0 ? stride : 1,
          dilation,
          firstDilation,
          bottleRatio: resolved.bottleRatio,
          first: b === 0,
          avgDown: resolved.avgDown,
          dropPath: rates[i][b],
        }));
        firstDilation = dilation;
      }
      this.stages.append(new ResNetV2Stage(blocks));
      previous = out;
      reduction *= stride;
      this.featureInfo.push({ numChs: out, reduction, module: `stages.${i}` });
    });
    this.norm = this.registerModule('norm', new BatchNormAct2d(previous));
    this.head = this.registerModule('head', new ClassifierHead(previous, resolved.numClasses, { globalPool: resolved.globalPool, dropRate: resolved.dropRate, useConv: true }));
    if (options.init ?? true) this.initWeights();
  }

  get classifierHead(): ClassifierHead {
    return this.head;
  }

  trunk(): TrunkStep[] {
    return [
      ...[...this.stem.namedChildren()].map(([name, module]): TrunkStep => [`stem.${name}`, module as Module]),
      ...[...this.stages.namedChildren()].map(([name, module]): TrunkStep => [`stages.${name}`, module as Module]),
      ['norm', this.norm],
    ];
  }

  /** timm's _init_weights: He-normal convolutions with zero biases, the head N(0, 0.01), norms 1 and 0. */
  private initWeights(): void {
    for (const [path, module] of this.namedModules()) {
      if (module instanceof Conv2d) {
        if (path === 'head.fc') normal_(module.weight, 0, 0.01);
        else kaimingNormal_(module.weight, { mode: 'fanOut', nonlinearity: 'relu' });
        if (module.bias) constant_(module.bias, 0);
      } else if (module instanceof BatchNormAct2d) {
        if (module.weight) constant_(module.weight, 1);
        if (module.bias) constant_(module.bias, 0);
      } else if (this.config.zeroInitResidual && module instanceof PreActBlock) {
        constant_(module.lastConv.weight, 0);
      }
    }
  }
}

const papers = {
  resnetv2: 'He, Zhang, Ren, Sun. Identity Mappings in Deep Residual Networks. ECCV 2016 (arXiv:1603.05027)',
};
// timm's resnetv2 configs: Inception normalisation, bicubic.
const inception = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
const cifar10 = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

type V2Variant = VariantDefinition<ResNetV2Config>;
const v2 = (block: 'basic' | 'bottleneck', depths: number[], description: string, extra: Partial<ResNetV2Config> = {}, cropPct = 0.875): V2Variant => ({
  config: { block, depths, ...extra },
  description,
  pretrained: { cropPct },
});
const preactCifar = (block: 'basic' | 'bottleneck', depth: number): V2Variant => {
  const perStage = block === 'basic' ? (depth - 2) / 6 : (depth - 2) / 9;
  return {
    config: { block, depths: [perStage, perStage, perStage], channels: block === 'basic' ? [16, 32, 64] : [64, 128, 256], stemType: 'cifar' },
    description: `CIFAR pre-activation ResNet-${depth}: 3 stages of ${perStage} ${block} blocks`,
    group: 'preact_resnet',
  };
};

export const resnetV2Family = defineFamily({
  family: 'resnetv2',
  title: 'ResNetV2',
  paper: papers.resnetv2,
  options: {
    ...commonOptionKinds,
    block: "'basic' | 'bottleneck'",
    depths: 'list of integers >= 1 (blocks per stage)',
    channels: 'list of integers >= 1 (output channels per stage)',
    stemType: "'' | 'deep' | 'tiered' | 'cifar'",
    stemWidth: 'integer >= 1',
    avgDown: 'boolean',
    bottleRatio: 'number > 0',
    zeroInitResidual: 'boolean',
  },
  resolve: resolveResNetV2Config,
  build: (config: ResolvedResNetV2Config, options) => new ResNetV2(config, options),
  describe(c: ResolvedResNetV2Config): string {
    const stem = c.stemType === '' ? '' : `, stem ${c.stemType} ${c.stemWidth}`;
    return `pre-activation ${c.block} blocks, depths [${c.depths.join(', ')}], channels [${c.channels.join(', ')}]${stem}${c.avgDown ? ', avgDown' : ''}`;
  },
  pretrained(c: ResolvedResNetV2Config) {
    const cifar = c.stemType === 'cifar';
    return {
      inputSize: (cifar ? [3, 32, 32] : [3, 224, 224]) as [number, number, number],
      ...(cifar ? cifar10 : inception),
      cropPct: cifar ? 1 : 0.875,
      interpolation: cifar ? ('bilinear' as const) : ('bicubic' as const),
      numClasses: cifar ? 10 : 1000,
      firstConv: c.stemType === 'deep' || c.stemType === 'tiered' ? 'stem.conv1' : 'stem.conv',
      classifier: 'head.fc',
    };
  },
  variants: {
    resnetv2_18: v2('basic', [2, 2, 2, 2], 'ResNetV2-18: pre-activation basic blocks, 2-2-2-2', {}, 0.9),
    resnetv2_34: v2('basic', [3, 4, 6, 3], 'ResNetV2-34: pre-activation basic blocks, 3-4-6-3', {}, 0.9),
    resnetv2_50: v2('bottleneck', [3, 4, 6, 3], 'ResNetV2-50: pre-activation bottlenecks, 3-4-6-3', {}, 0.95),
    resnetv2_101: v2('bottleneck', [3, 4, 23, 3], 'ResNetV2-101: pre-activation bottlenecks, 3-4-23-3', {}, 0.95),
    resnetv2_152: v2('bottleneck', [3, 8, 36, 3], 'ResNetV2-152: pre-activation bottlenecks, 3-8-36-3'),
    resnetv2_50d: v2('bottleneck', [3, 4, 6, 3], 'ResNetV2-50-D: deep stem, average-pool shortcuts', { stemType: 'deep', avgDown: true }),
    preact_resnet110: preactCifar('basic', 110),
    preact_resnet164: preactCifar('bottleneck', 164),
  },
});
