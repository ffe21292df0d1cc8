// IResNet from InsightFace's arcface_torch (recognition/arcface_torch/backbones/
// iresnet.py), with its state-dict keys: a 3x3 stem at stride 1 (conv1, bn1, prelu),
// four stages of IBasicBlock (layer1..layer4, each stage's first block at stride 2),
// then bn2, flatten, dropout, fc (512 * 7 * 7 -> 512) and `features`, a BatchNorm1d
// whose weight is frozen at 1 in training but read from a checkpoint like any other.
// Every BatchNorm has eps 1e-5. Inputs are 112x112 RGB crops normalised outside the
// model as (x / 255 - 0.5) / 0.5.
import { PReLU } from '../nn/activation.js';
import { Dropout } from '../nn/basic.js';
import { BatchNorm1d, BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { constant_, normal_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { Sequential } from '../nn/sequential.js';
import type { Tensor } from '../torch/tensor.js';
import { EmbeddingModel, type EmbeddingPreprocessing } from './embedding.js';
import { conv1x1, conv3x3, runChain, Stage } from './layers.js';
import { defineFamily } from './family.js';
import { checkBoolean, checkInteger, checkIntegerList } from './options.js';

const EPS = 1e-5;
/** arcface_torch's fc_scale: the 7x7 map a 112x112 input leaves after four stride-2 stages. */
const FC_SCALE = 7 * 7;

/** IBasicBlock: BN, conv3x3, BN, PReLU, conv3x3 (the stride), BN, plus the shortcut; no activation after the sum. */
export class IBasicBlock extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly prelu: PReLU;
  readonly conv2: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null) {
    super();
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(inplanes, { eps: EPS }));
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes, { eps: EPS }));
    this.prelu = this.registerModule('prelu', new PReLU(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, { stride }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes, { eps: EPS }));
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }

  forward(input: Tensor): Tensor {
    const out = runChain(input, [this.bn1, this.conv1, this.bn2, this.prelu, this.conv2, this.bn3]);
    return out.add(this.downsample ? this.downsample.call(input) : input);
  }
}

export interface IResNetConfig {
  family?: 'iresnet';
  name?: string;
  /** Blocks per stage: [3, 4, 14, 3] for iresnet50. */
  layers?: number[];
  /** num_features: the embedding size. */
  embeddingSize?: number;
  /** Dropout before fc (arcface_torch's `dropout`, default 0). */
  dropout?: number;
  /** Start every block's bn2 weight at 0, as arcface_torch's zero_init_residual. */
  zeroInitResidual?: boolean;
}

export type ResolvedIResNetConfig = Required<IResNetConfig> & { family: 'iresnet' };

export function resolveIResNetConfig(config: IResNetConfig): ResolvedIResNetConfig {
  const name = config.name ?? 'iresnet';
  const dropout = config.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new Error(`${name}: dropout must be a number in [0, 1), got ${JSON.stringify(dropout)}`);
  return {
    family: 'iresnet',
    name,
    layers: checkIntegerList(name, 'layers', config.layers ?? [3, 4, 14, 3], 1, 4),
    embeddingSize: checkInteger(name, 'embeddingSize', config.embeddingSize ?? 512, 1),
    dropout,
    zeroInitResidual: checkBoolean(name, 'zeroInitResidual', config.zeroInitResidual ?? false),
  };
}

export interface IResNetBuildOptions {
  /** false skips arcface_torch's initialisation (the weights are about to be loaded). */
  init?: boolean;
}

export class IResNet extends EmbeddingModel {
  readonly config: ResolvedIResNetConfig;
  readonly embeddingSize: number;
  readonly preprocessing: EmbeddingPreprocessing = { inputSize: [3, 112, 112], channels: 'RGB', normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } };
  readonly stages: Stage[] = [];
  readonly #modules: { before: Module[]; after: Module[] };

  constructor(config: IResNetConfig, options: IResNetBuildOptions = {}) {
    const resolved = resolveIResNetConfig(config);
    super(resolved.name);
    this.config = resolved;
    this.embeddingSize = resolved.embeddingSize;
    const conv1 = this.registerModule('conv1', new Conv2d(3, 64, 3, { stride: 1, padding: 1, bias: false }));
    const bn1 = this.registerModule('bn1', new BatchNorm2d(64, { eps: EPS }));
    const prelu = this.registerModule('prelu', new PReLU(64));
    let inplanes = 64;
    [64, 128, 256, 512].forEach((planes, i) => {
      // arcface_torch's _make_layer: every stage's first block strides by 2.
      const downsample = new Sequential(conv1x1(inplanes, planes, 2), new BatchNorm2d(planes, { eps: EPS }));
      const stage = new Stage(new IBasicBlock(inplanes, planes, 2, downsample));
      inplanes = planes;
      for (let j = 1; j < resolved.layers[i]; j++) stage.append(new IBasicBlock(inplanes, planes));
      this.stages.push(this.registerModule(`layer${i + 1}`, stage));
    });
    const bn2 = this.registerModule('bn2', new BatchNorm2d(512, { eps: EPS }));
    const dropout = this.registerModule('dropout', new Dropout(resolved.dropout));
    const fc = this.registerModule('fc', new Linear(512 * FC_SCALE, resolved.embeddingSize));
    const features = this.registerModule('features', new BatchNorm1d(resolved.embeddingSize, { eps: EPS }));
    features.weight!.requiresGrad_(false);
    this.#modules = { before: [conv1, bn1, prelu], after: [dropout, fc, features] };
    if (options.init ?? true) this.#initialise(resolved.zeroInitResidual);
  }

  /** arcface_torch's init: convolutions N(0, 0.1), BatchNorm2d weight 1 and bias 0, features.weight 1. */
  #initialise(zeroInitResidual: boolean): void {
    for (const [, module] of this.namedModules()) {
      if (module instanceof Conv2d) normal_(module.weight, 0, 0.1);
      else if (module instanceof BatchNorm2d) {
        constant_(module.weight!, 1);
        constant_(module.bias!, 0);
      }
    }
    const features = this.getModule('features') as BatchNorm1d;
    constant_(features.weight!, 1);
    if (zeroInitResidual) for (const [, module] of this.namedModules()) if (module instanceof IBasicBlock) constant_(module.bn2.weight!, 0);
  }

  protected embedding(input: Tensor): Tensor {
    const [height, width] = input.shape.slice(2);
    if (height !== 112 || width !== 112) throw new Error(`${this.name} expects 112x112 input (its fc reads a 7x7 map), got ${height}x${width}`);
    const features = runChain(input, [...this.#modules.before, ...this.stages, this.getModule('bn2') as Module]);
    return runChain(features.flatten(1), this.#modules.after);
  }

  clone(): IResNet {
    return this.copyStateInto(new IResNet(this.config, { init: false }));
  }

  override describe(): string {
    return `${this.name} (IResNet, ${iresnetFamily.describe(this.config)})`;
  }
}

const paper = 'Duta, Liu, Zhu, Shao. Improved Residual Networks for Image and Video Recognition. ICPR 2020 (arXiv:2004.04989); InsightFace arcface_torch iresnet.py';

const variant = (layers: number[]) => ({ config: { layers }, description: `arcface_torch IResNet: IBasicBlock ${layers.join('-')}, 512-d embedding` });

export const iresnetFamily = defineFamily({
  family: 'iresnet',
  kind: 'embedding',
  title: 'IResNet',
  paper,
  options: {
    name: 'string',
    layers: 'list of 4 integers >= 1 (blocks per stage)',
    embeddingSize: 'integer >= 1 (num_features)',
    dropout: 'number in [0, 1)',
    zeroInitResidual: 'boolean',
  },
  resolve: resolveIResNetConfig,
  build: (config: ResolvedIResNetConfig, options) => new IResNet(config, options),
  describe: (c: ResolvedIResNetConfig) => `layers [${c.layers.join(', ')}], ${c.embeddingSize}-d embedding`,
  pretrained: () => ({ inputSize: [3, 112, 112], cropPct: 1, interpolation: 'bilinear', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], numClasses: 0, firstConv: 'conv1', classifier: '' }),
  variants: {
    iresnet18: variant([2, 2, 2, 2]),
    iresnet34: variant([3, 4, 6, 3]),
    iresnet50: variant([3, 4, 14, 3]),
    iresnet100: variant([3, 13, 30, 3]),
    iresnet200: variant([6, 26, 60, 6]),
  },
});
