// ResNet for ImageNet-sized inputs (He et al. 2015), laid out as torchvision's
// resnet.py so state-dict keys and shapes are torchvision's: a 7x7 stem, stages of
// residual blocks (layer1..layer4), global average pooling and a linear classifier.
// The timm variants are the same class with other knobs: ResNeXt and Wide ResNet
// (groups, widthPerGroup), SE-ResNet (attnLayer 'se'), and the Bag-of-Tricks
// ResNet-B/C/D (strideOn, stemType 'deep', avgDown), with timm's keys.
import { Conv2d } from '../nn/conv.js';
import { MaxPool2d } from '../nn/pooling.js';
import type { Module } from '../nn/module.js';
import { Sequential } from '../nn/sequential.js';
import { avgDownPool } from '../layers/avg-down.js';
import { ClassifierHead } from '../layers/classifier-head.js';
import { ConvNormAct } from '../layers/conv-norm-act.js';
import { dropPathRates } from '../layers/drop-path.js';
import { batchNorm2d, relu } from '../layers/factories.js';
import { inlineInto } from '../layers/inline.js';
import { attentionFactory } from '../layers/squeeze-excite.js';
import { ImageClassifier, type FeatureInfo, type ResolvedCommonConfig, type TrunkStep } from './classifier.js';
import { defineFamily, type CommonConfig, type VariantDefinition } from './family.js';
import { conv1x1, dilatedStages, initResNetWeights, planStages, Stage, type StagePlan } from './layers.js';
import { checkBoolean, checkChoice, checkInteger, checkIntegerList, commonOptionKinds, resolveCommonOptions } from './options.js';
import { blockClasses, type BlockType, type StridePlacement } from './resnet-blocks.js';

export type StemType = '' | 'deep' | 'deep_tiered';

/** A ResNet as plain data: everything that decides its layers. */
export interface ResNetConfig extends CommonConfig {
  family?: 'resnet';
  block: BlockType;
  /** Blocks per stage: [2, 2, 2, 2] for ResNet-18, [3, 4, 6, 3] for ResNet-50. */
  depths: number[];
  /** Planes per stage before the block's expansion; default 64, 128, 256, 512, ... doubling. */
  widths?: number[];
  /** '' the 7x7 stem; 'deep' three 3x3 convolutions (ResNet-C/D); 'deep_tiered' the same, narrower first. */
  stemType?: StemType;
  /** Output channels of the 7x7 stem (default 64), or the width of a deep stem's 3x3 convolutions (default 32; its output is twice that). */
  stemWidth?: number;
  /** Shortcut projections average-pool, then a stride-1 1x1 convolution (ResNet-D). */
  avgDown?: boolean;
  /** ResNeXt's cardinality: groups of the 3x3 convolution in bottleneck blocks. */
  groups?: number;
  /** Channels per group at 64 planes: 4 for resnext50_32x4d, 128 for wide_resnet50_2. */
  widthPerGroup?: number;
  /** Attention in every block after its last norm: 'se' (squeeze-and-excitation, timm's `se`) or '' for none. */
  attnLayer?: '' | 'se';
  /** Start each block's last BatchNorm at 0, so residual branches begin as identities. */
  zeroInitResidual?: boolean;
  /** Per stage after the first: replace its stride 2 by dilation (torchvision's form of outputStride). */
  replaceStrideWithDilation?: boolean[];
  strideOn?: StridePlacement;
}

export type ResolvedResNetConfig = Required<ResNetConfig> & ResolvedCommonConfig & { family: 'resnet' };

const stageStride = (i: number) => (i === 0 ? 1 : 2);

/** Fills in every default and checks every value. */
export function resolveResNetConfig(config: ResNetConfig): ResolvedResNetConfig {
  const name = config.name ?? 'resnet';
  const block = checkChoice(name, 'block', config.block, ['basic', 'bottleneck'] as const);
  const depths = checkIntegerList(name, 'depths', config.depths, 1);
  const widths = config.widths === undefined ? depths.map((_, i) => 64 * 2 ** i) : checkIntegerList(name, 'widths', config.widths, 1, depths.length);
  const strides = depths.map((_, i) => stageStride(i));
  const common = resolveCommonOptions(name, config, { numClasses: 1000, outputStride: 4 * 2 ** (depths.length - 1), outputStrides: [8, 16, 32] });
  const given = config.replaceStrideWithDilation;
  if (given !== undefined && (!Array.isArray(given) || given.length !== depths.length - 1)) {
    throw new Error(`${name}: replaceStrideWithDilation must list ${depths.length - 1} booleans (one per stage after the first), got ${JSON.stringify(given)}`);
  }
  given?.forEach((value, i) => checkBoolean(name, `replaceStrideWithDilation[${i}]`, value));
  const fromStride = dilatedStages(strides, 4, common.outputStride).slice(1);
  const dilate = given ?? fromStride;
  if (config.outputStride !== undefined && given !== undefined && given.some((flag, i) => flag !== fromStride[i])) {
    throw new Error(`${name}: replaceStrideWithDilation ${JSON.stringify(given)} disagrees with outputStride ${config.outputStride}; give one of them`);
  }
  const plan = planStages(strides, 4, [false, ...dilate]);
  const stemType = checkChoice(name, 'stemType', config.stemType ?? '', ['', 'deep', 'deep_tiered'] as const);
  const resolved: ResolvedResNetConfig = {
    ...common,
    family: 'resnet',
    outputStride: plan[plan.length - 1].reduction,
    block,
    depths,
    widths,
    stemType,
    stemWidth: checkInteger(name, 'stemWidth', config.stemWidth ?? (stemType === '' ? 64 : 32), 1),
    avgDown: checkBoolean(name, 'avgDown', config.avgDown ?? false),
    groups: checkInteger(name, 'groups', config.groups ?? 1, 1),
    widthPerGroup: checkInteger(name, 'widthPerGroup', config.widthPerGroup ?? 64, 1),
    attnLayer: checkChoice(name, 'attnLayer', config.attnLayer ?? '', ['', 'se'] as const),
    zeroInitResidual: checkBoolean(name, 'zeroInitResidual', config.zeroInitResidual ?? false),
    replaceStrideWithDilation: [...dilate],
    strideOn: checkChoice(name, 'strideOn', config.strideOn ?? '3x3', ['3x3', '1x1'] as const),
  };
  if (block === 'basic' && (resolved.groups !== 1 || resolved.widthPerGroup !== 64)) {
    throw new Error(`${name}: basic blocks support only groups 1 and widthPerGroup 64, got groups ${resolved.groups}, widthPerGroup ${resolved.widthPerGroup}`);
  }
  return resolved;
}

/** The shortcut projection: 1x1 conv (striding) + norm, or with avgDown timm's pool, stride-1 conv, norm. */
function makeDownsample(config: ResolvedResNetConfig, inChannels: number, outChannels: number, stride: number, dilation: number): Sequential {
  if (!config.avgDown) return new Sequential(conv1x1(inChannels, outChannels, stride), batchNorm2d(outChannels));
  return new Sequential(avgDownPool(stride, dilation), conv1x1(inChannels, outChannels), batchNorm2d(outChannels));
}

/** timm's deep stem (conv1.0 / .1 / .3 / .4 / .6): three 3x3 convolutions, the first striding. */
function deepStem(inChans: number, stemType: StemType, stemWidth: number): Sequential {
  const [first, second] = stemType === 'deep_tiered' ? [3 * Math.floor(stemWidth / 4), stemWidth] : [stemWidth, stemWidth];
  const conv = (cin: number, cout: number, stride: number) => new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false });
  return new Sequential(
    conv(inChans, first, 2), batchNorm2d(first), relu(first),
    conv(first, second, 1), batchNorm2d(second), relu(second),
    conv(second, stemWidth * 2, 1),
  );
}

export class ResNet extends ImageClassifier<ResolvedResNetConfig> {
  readonly classifierHead: ClassifierHead;
  readonly featureInfo: FeatureInfo[] = [];
  /** layer1, layer2, ... */
  readonly stages: Stage[] = [];
  readonly #trunkNames: string[];

  constructor(config: ResNetConfig, options: { init?: boolean } = {}) {
    const resolved = resolveResNetConfig(config);
    super(resolved);
    const { stemWidth, inChans, stemType } = resolved;
    let channels: number;
    if (stemType === '') {
      channels = stemWidth;
      inlineInto(this, new ConvNormAct(inChans, stemWidth, 7, { stride: 2, padding: 3, names: { conv: 'conv1', norm: 'bn1', act: 'relu' } }));
    } else {
      channels = stemWidth * 2;
      this.registerModule('conv1', deepStem(inChans, stemType, stemWidth));
      // bn1 follows the Sequential's last convolution across a module boundary: it stays unfolded, as in timm.
      this.registerModule('bn1', batchNorm2d(channels));
      this.registerModule('relu', relu(channels));
    }
    this.registerModule('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 }));
    this.featureInfo.push({ numChs: channels, reduction: 2, module: 'relu' });

    const Block = blockClasses[resolved.block];
    const plans = planStages(resolved.depths.map((_, i) => stageStride(i)), 4, [false, ...resolved.replaceStrideWithDilation]);
    const rates = dropPathRates(resolved.depths, resolved.dropPathRate);
    const shared = { groups: resolved.groups, widthPerGroup: resolved.widthPerGroup, strideOn: resolved.strideOn, attention: attentionFactory(resolved.attnLayer) };
    resolved.widths.forEach((planes, i) => {
      const plan: StagePlan = plans[i];
      const outChannels = planes * Block.expansion;
      const downsample = plan.stride !== 1 || channels !== outChannels ? makeDownsample(resolved, channels, outChannels, plan.stride, plan.dilation) : null;
      const stage = new Stage();
      for (let b = 0; b < resolved.depths[i]; b++) {
        const first = b === 0;
        stage.append(new Block(first ? channels : outChannels, planes, {
          ...shared,
          stride: first ? plan.stride : 1,
          downsample: first ? downsample : null,
          dilation: plan.dilation,
          firstDilation: first ? plan.firstDilation : plan.dilation,
          dropPath: rates[i][b],
        }));
      }
      channels = outChannels;
      this.stages.push(this.registerModule(`layer${i + 1}`, stage));
      this.featureInfo.push({ numChs: channels, reduction: plan.reduction, module: `layer${i + 1}` });
    });
    this.classifierHead = inlineInto(this, new ClassifierHead(channels, resolved.numClasses, {
      globalPool: resolved.globalPool,
      dropRate: resolved.dropRate,
      names: { pool: 'avgpool', drop: 'drop', fc: 'fc' },
    }));
    this.#trunkNames = ['conv1', 'bn1', 'relu', 'maxpool', ...this.stages.map((_, i) => `layer${i + 1}`)];
    if (options.init ?? true) initResNetWeights(this, resolved.zeroInitResidual);
  }

  trunk(): TrunkStep[] {
    return this.#trunkNames.map((name) => [name, this.getModule(name) as Module]);
  }
}

const papers = {
  resnet: 'He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016 (arXiv:1512.03385)',
  resnext: 'Xie, Girshick, Dollar, Tu, He. Aggregated Residual Transformations for Deep Neural Networks. CVPR 2017 (arXiv:1611.05431)',
  wide_resnet: 'Zagoruyko, Komodakis. Wide Residual Networks. BMVC 2016 (arXiv:1605.07146)',
  seresnet: 'Hu, Shen, Sun. Squeeze-and-Excitation Networks. CVPR 2018 (arXiv:1709.01507)',
  resnet_bcd: 'He, Zhang, Zhang, Zhang, Xie, Li. Bag of Tricks for Image Classification with Convolutional Neural Networks. CVPR 2019 (arXiv:1812.01187)',
};

/** ImageNet input as torchvision's weights expect it. */
export const imagenetInput = {
  inputSize: [3, 224, 224] as [number, number, number],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  cropPct: 0.875,
  interpolation: 'bilinear' as const,
  numClasses: 1000,
};

type ResNetVariant = VariantDefinition<ResNetConfig>;
const basic = (depths: number[], description: string, extra: Partial<ResNetConfig> = {}): ResNetVariant => ({ config: { block: 'basic', depths, ...extra }, description });
const bottleneck = (depths: number[], description: string, extra: Partial<ResNetConfig> = {}): ResNetVariant => ({ config: { block: 'bottleneck', depths, ...extra }, description });
const inGroup = (group: keyof typeof papers, variant: ResNetVariant): ResNetVariant => ({ ...variant, group, paper: papers[group] });
// timm's weights for its variants (its _rcfg): bicubic, crop 0.95.
const timmStyle = (group: keyof typeof papers, variant: ResNetVariant): ResNetVariant => ({ ...inGroup(group, variant), pretrained: { interpolation: 'bicubic', cropPct: 0.95 } });
const resnetD = { stemType: 'deep', stemWidth: 32, avgDown: true } as const;

export const resnetFamily = defineFamily({
  family: 'resnet',
  title: 'ResNet',
  paper: papers.resnet,
  options: {
    ...commonOptionKinds,
    block: "'basic' | 'bottleneck'",
    depths: 'list of integers >= 1 (blocks per stage)',
    widths: 'list of integers >= 1 (planes per stage)',
    stemType: "'' | 'deep' | 'deep_tiered'",
    stemWidth: 'integer >= 1',
    avgDown: 'boolean',
    groups: 'integer >= 1',
    widthPerGroup: 'integer >= 1',
    attnLayer: "'' | 'se'",
    zeroInitResidual: 'boolean',
    replaceStrideWithDilation: 'list of booleans, one per stage after the first',
    strideOn: "'3x3' | '1x1'",
  },
  resolve: resolveResNetConfig,
  build: (config: ResolvedResNetConfig, options) => new ResNet(config, options),
  describe(c: ResolvedResNetConfig): string {
    const grouping = c.block === 'bottleneck' ? `, groups ${c.groups}, widthPerGroup ${c.widthPerGroup}` : '';
    const stem = c.stemType === '' ? '' : `, stem ${c.stemType} ${c.stemWidth}`;
    const extras = [c.avgDown ? 'avgDown' : '', c.attnLayer ? `attnLayer ${c.attnLayer}` : ''].filter(Boolean).map((e) => `, ${e}`).join('');
    return `${c.block} blocks, depths [${c.depths.join(', ')}], widths [${c.widths.join(', ')}]${grouping}${stem}${extras}`;
  },
  pretrained: (c: ResolvedResNetConfig) => ({ ...imagenetInput, firstConv: c.stemType === '' ? 'conv1' : 'conv1.0', classifier: 'fc' }),
  variants: {
    resnet18: basic([2, 2, 2, 2], 'ResNet-18: basic blocks, 2-2-2-2'),
    resnet34: basic([3, 4, 6, 3], 'ResNet-34: basic blocks, 3-4-6-3'),
    resnet50: bottleneck([3, 4, 6, 3], 'ResNet-50: bottleneck blocks, 3-4-6-3'),
    resnet101: bottleneck([3, 4, 23, 3], 'ResNet-101: bottleneck blocks, 3-4-23-3'),
    resnet152: bottleneck([3, 8, 36, 3], 'ResNet-152: bottleneck blocks, 3-8-36-3'),
    resnext50_32x4d: inGroup('resnext', bottleneck([3, 4, 6, 3], 'ResNeXt-50 32x4d: cardinality 32, 4 channels per group', { groups: 32, widthPerGroup: 4 })),
    resnext101_32x8d: inGroup('resnext', bottleneck([3, 4, 23, 3], 'ResNeXt-101 32x8d: cardinality 32, 8 channels per group', { groups: 32, widthPerGroup: 8 })),
    resnext101_64x4d: inGroup('resnext', bottleneck([3, 4, 23, 3], 'ResNeXt-101 64x4d: cardinality 64, 4 channels per group', { groups: 64, widthPerGroup: 4 })),
    wide_resnet50_2: inGroup('wide_resnet', bottleneck([3, 4, 6, 3], 'Wide ResNet-50-2: ResNet-50 with twice the bottleneck width', { widthPerGroup: 128 })),
    wide_resnet101_2: inGroup('wide_resnet', bottleneck([3, 4, 23, 3], 'Wide ResNet-101-2: ResNet-101 with twice the bottleneck width', { widthPerGroup: 128 })),
    seresnet18: timmStyle('seresnet', basic([2, 2, 2, 2], 'SE-ResNet-18: ResNet-18 with squeeze-and-excitation in every block', { attnLayer: 'se' })),
    seresnet34: timmStyle('seresnet', basic([3, 4, 6, 3], 'SE-ResNet-34', { attnLayer: 'se' })),
    seresnet50: timmStyle('seresnet', bottleneck([3, 4, 6, 3], 'SE-ResNet-50', { attnLayer: 'se' })),
    seresnet101: timmStyle('seresnet', bottleneck([3, 4, 23, 3], 'SE-ResNet-101', { attnLayer: 'se' })),
    seresnet152: timmStyle('seresnet', bottleneck([3, 8, 36, 3], 'SE-ResNet-152', { attnLayer: 'se' })),
    seresnext50_32x4d: timmStyle('seresnet', bottleneck([3, 4, 6, 3], 'SE-ResNeXt-50 32x4d', { attnLayer: 'se', groups: 32, widthPerGroup: 4 })),
    seresnext101_32x4d: timmStyle('seresnet', bottleneck([3, 4, 23, 3], 'SE-ResNeXt-101 32x4d', { attnLayer: 'se', groups: 32, widthPerGroup: 4 })),
    resnet18d: timmStyle('resnet_bcd', basic([2, 2, 2, 2], 'ResNet-18-D: deep stem, average-pool shortcuts', resnetD)),
    resnet26d: timmStyle('resnet_bcd', bottleneck([2, 2, 2, 2], 'ResNet-26-D: bottleneck 2-2-2-2, deep stem, average-pool shortcuts', resnetD)),
    resnet34d: timmStyle('resnet_bcd', basic([3, 4, 6, 3], 'ResNet-34-D', resnetD)),
    resnet50c: timmStyle('resnet_bcd', bottleneck([3, 4, 6, 3], 'ResNet-50-C: deep stem', { stemType: 'deep', stemWidth: 32 })),
    resnet50d: timmStyle('resnet_bcd', bottleneck([3, 4, 6, 3], 'ResNet-50-D: deep stem, average-pool shortcuts', resnetD)),
    resnet101d: timmStyle('resnet_bcd', bottleneck([3, 4, 23, 3], 'ResNet-101-D', resnetD)),
    resnet152d: timmStyle('resnet_bcd', bottleneck([3, 8, 36, 3], 'ResNet-152-D', resnetD)),
  },
});
