// The CIFAR-10 ResNets of He et al. (2015), section 4.2: a 3x3 stem with 16 channels,
// three stages of n basic blocks with 16, 32 and 64 channels (6n + 2 layers), global
// average pooling and a linear classifier. Where a stage halves the size and doubles
// the channels, the shortcut is option A (subsample and pad with zero channels: no
// parameters) or option B (1x1 convolution and BatchNorm projection).
import { Module } from '../nn/module.js';
import { Sequential } from '../nn/sequential.js';
import { pad } from '../torch/functional.js';
import { isMkldnn, toDense, toMkldnn } from '../torch/mkldnn-layout.js';
import { tidy } from '../torch/scope.js';
import { Tensor } from '../torch/tensor.js';
import { ClassifierHead } from '../layers/classifier-head.js';
import { ConvNormAct } from '../layers/conv-norm-act.js';
import { dropPathRates } from '../layers/drop-path.js';
import { batchNorm2d } from '../layers/factories.js';
import { inlineInto } from '../layers/inline.js';
import { ImageClassifier, type FeatureInfo, type ResolvedCommonConfig, type TrunkStep } from './classifier.js';
import { defineFamily, type CommonConfig } from './family.js';
import { conv1x1, dilatedStages, initResNetWeights, planStages, Stage } from './layers.js';
import { checkBoolean, checkChoice, checkInteger, checkIntegerList, commonOptionKinds, resolveCommonOptions } from './options.js';
import { BasicBlock } from './resnet-blocks.js';

export type ShortcutOption = 'A' | 'B';

export interface CifarResNetConfig extends CommonConfig {
  family?: 'cifar_resnet';
  /** Layers with weights: 6n + 2 for three stages (20, 32, 44, 56, 110, 1202). */
  depth: number;
  /** Channels per stage. */
  widths?: number[];
  shortcut?: ShortcutOption;
  zeroInitResidual?: boolean;
}

export type ResolvedCifarResNetConfig = Required<CifarResNetConfig> & ResolvedCommonConfig & { family: 'cifar_resnet' };

const stageStride = (i: number) => (i === 0 ? 1 : 2);

export function resolveCifarResNetConfig(config: CifarResNetConfig): ResolvedCifarResNetConfig {
  const name = config.name ?? `cifar_resnet${config.depth}`;
  const widths = checkIntegerList(name, 'widths', config.widths ?? [16, 32, 64], 1);
  // ResNet-1202 is the deepest of the paper; ten thousand layers bound the blocks built.
  const depth = checkInteger(name, 'depth', config.depth, 2 * widths.length + 2, 10_000);
  if ((depth - 2) % (2 * widths.length) !== 0) {
    throw new Error(`${name}: depth must be ${2 * widths.length}n + 2 with ${widths.length} stages (20, 32, 44, 56, 110 for three), got ${depth}`);
  }
  // The undilated network strides 2 per stage after the first; a larger outputStride changes nothing.
  const natural = 2 ** (widths.length - 1);
  const common = resolveCommonOptions(name, config, { numClasses: 10, outputStride: natural, outputStrides: [1, 2, 4, 8, 16, 32] });
  return {
    ...common,
    outputStride: Math.min(common.outputStride, natural),
    family: 'cifar_resnet',
    depth,
    widths,
    shortcut: checkChoice(name, 'shortcut', config.shortcut ?? 'A', ['A', 'B'] as const),
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
    // oneDNN's blocked layout (inference with packed weights, training with --mkldnn) has no strided views:
    // the shortcut works on a dense copy there and hands back the same layout.
    if (isMkldnn(input)) return tidy(() => toMkldnn(this.forward(toDense(input))));
    const subsampled = this.stride > 1 ? input.slice(2, 0, undefined, this.stride).slice(3, 0, undefined, this.stride) : input;
    return pad(subsampled, [0, 0, 0, 0, 0, this.outChannels - this.inChannels]);
  }
}

export class CifarResNet extends ImageClassifier<ResolvedCifarResNetConfig> {
  readonly classifierHead: ClassifierHead;
  readonly featureInfo: FeatureInfo[] = [];
  readonly stages: Stage[] = [];
  readonly #trunkNames: string[];

  constructor(config: CifarResNetConfig, options: { init?: boolean } = {}) {
    const resolved = resolveCifarResNetConfig(config);
    super(resolved);
    const { widths, shortcut } = resolved;
    const blocksPerStage = (resolved.depth - 2) / (2 * widths.length);
    inlineInto(this, new ConvNormAct(resolved.inChans, widths[0], 3, { names: { conv: 'conv1', norm: 'bn1', act: 'relu' } }));
    this.featureInfo.push({ numChs: widths[0], reduction: 1, module: 'relu' });
    const strides = widths.map((_, i) => stageStride(i));
    const plans = planStages(strides, 1, dilatedStages(strides, 1, resolved.outputStride));
    const rates = dropPathRates(widths.map(() => blocksPerStage), resolved.dropPathRate);
    let channels = widths[0];
    widths.forEach((width, i) => {
      const { stride, dilation, firstDilation, reduction } = plans[i];
      const changes = stride !== 1 || channels !== width;
      const downsample = !changes
        ? null
        : shortcut === 'A'
          ? new ZeroPadShortcut(channels, width, stride)
          : new Sequential(conv1x1(channels, width, stride), batchNorm2d(width));
      const stage = new Stage();
      for (let b = 0; b < blocksPerStage; b++) {
        const first = b === 0;
        stage.append(new BasicBlock(first ? channels : width, width, {
          stride: first ? stride : 1,
          downsample: first ? downsample : null,
          dilation,
          firstDilation: first ? firstDilation : dilation,
          dropPath: rates[i][b],
        }));
      }
      this.stages.push(this.registerModule(`layer${i + 1}`, stage));
      this.featureInfo.push({ numChs: width, reduction, module: `layer${i + 1}` });
      channels = width;
    });
    this.classifierHead = inlineInto(this, new ClassifierHead(channels, resolved.numClasses, {
      globalPool: resolved.globalPool,
      dropRate: resolved.dropRate,
      names: { pool: 'avgpool', drop: 'drop', fc: 'fc' },
    }));
    this.#trunkNames = ['conv1', 'bn1', 'relu', ...this.stages.map((_, i) => `layer${i + 1}`)];
    if (options.init ?? true) initResNetWeights(this, resolved.zeroInitResidual, 'fanIn');
  }

  trunk(): TrunkStep[] {
    return this.#trunkNames.map((name) => [name, this.getModule(name) as Module]);
  }
}

const cifar10 = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
const cifarVariant = (depth: number) => ({
  config: { depth },
  description: `CIFAR ResNet-${depth}: 3 stages of ${(depth - 2) / 6} basic blocks, 16-32-64 channels`,
});

export const cifarResNetFamily = defineFamily({
  family: 'cifar_resnet',
  title: 'CifarResNet',
  paper: 'He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016 (arXiv:1512.03385), section 4.2',
  options: {
    ...commonOptionKinds,
    depth: 'integer 6n + 2 (20, 32, 44, 56, 110)',
    widths: 'list of integers >= 1 (channels per stage)',
    shortcut: "'A' | 'B'",
    zeroInitResidual: 'boolean',
  },
  resolve: resolveCifarResNetConfig,
  build: (config: ResolvedCifarResNetConfig, options) => new CifarResNet(config, options),
  describe: (c: ResolvedCifarResNetConfig) => `depth ${c.depth}, widths [${c.widths.join(', ')}], shortcut option ${c.shortcut}`,
  pretrained: () => ({ inputSize: [3, 32, 32], ...cifar10, cropPct: 1, interpolation: 'bilinear', numClasses: 10, firstConv: 'conv1', classifier: 'fc' }),
  variants: {
    resnet20: cifarVariant(20),
    resnet32: cifarVariant(32),
    resnet44: cifarVariant(44),
    resnet56: cifarVariant(56),
    resnet110: cifarVariant(110),
  },
});
