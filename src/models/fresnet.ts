// InsightFace's MXNet ResNets for face recognition (fresnet.py), built
// as its `resnet()` builds them: an input stem chosen by the input version, four
// stages of residual units whose first unit always strides by 2 (stage 1 included) and
// projects its shortcut, the `convd`/`bnd`/`relud` tail after bottleneck stages, and
// one of get_fc1's embedding heads. Module names are MXNet's (conv0, bn0, relu0,
// stage1.unit1.conv1, pre_fc1, fc1), so the MXNet key map is mechanical.
//
// InsightFace's default, registered as fresnet18 ... fresnet269: unit 3 (the "IR"
// unit), input 1 (3x3 stem at stride 1, for 112x112 crops), PReLU, no SE, head E,
// 512-d; InsightFace calls fresnet100 of this form LResNet100E-IR.
import { FixedGammaBatchNorm, act, batchNorm2d, conv, type Activation } from './fresnet-layers.js';
import { addEmbeddingHead, headKinds, type EmbeddingHead, type HeadKind } from './fresnet-heads.js';
import { residualUnit, type UnitVersion } from './fresnet-units.js';
import { EmbeddingModel, type EmbeddingPreprocessing } from './embedding.js';
import { initResNetWeights, runChain, Stage } from './layers.js';
import { defineFamily, type VariantDefinition } from './family.js';
import { mxnetKeyFilter } from './mxnet-names.js';
import { checkBoolean, checkChoice, checkInteger, checkIntegerList } from './options.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';

/** The units per stage by depth of InsightFace's MXNet fresnet.py (get_symbol's table; see docs/insightface.md for 90). */
export const fresnetDepths: Readonly<Record<number, readonly number[]>> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  49: [3, 4, 14, 3],
  50: [3, 4, 14, 3],
  74: [3, 6, 24, 3],
  90: [3, 8, 30, 3],
  98: [3, 4, 38, 3],
  99: [3, 8, 35, 3],
  100: [3, 13, 30, 3],
  101: [3, 4, 23, 3],
  124: [3, 13, 40, 5],
  134: [3, 10, 50, 3],
  136: [3, 13, 48, 3],
  140: [3, 15, 48, 3],
  152: [3, 8, 36, 3],
  160: [3, 24, 49, 3],
  200: [3, 24, 36, 3],
  269: [3, 30, 48, 8],
};

export type InputVersion = 0 | 1 | 2;

/** A fresnet as plain data: the options of fresnet.py's config (net_unit, net_input, ...). */
export interface FResNetConfig {
  family?: 'fresnet';
  name?: string;
  /** A depth of the table (18 to 269); `units` overrides it. Default 50. */
  depth?: number;
  /** Units per stage, four numbers. */
  units?: number[];
  /** config.net_unit: 1 (v1 for input 0, v1_L otherwise), 2, 3 (default) or '3_x' (grouped, bottleneck only). */
  unit?: UnitVersion;
  /** config.net_input: 0 (7x7 stride-2 stem), 1 (3x3 stride-1 stem, default), 2 (BatchNorm on the raw input, then 3x3). */
  input?: InputVersion;
  /** config.net_act. */
  act?: Activation;
  /** config.net_se: squeeze-and-excitation in every unit. */
  se?: boolean;
  /** config.net_output: the get_fc1 head. */
  head?: HeadKind;
  /** config.emb_size. */
  embeddingSize?: number;
  /** Bottleneck units with widths 256..2048 and the convd tail; fresnet.py uses them from 500 layers. */
  bottleneck?: boolean;
  /** [height, width] of the input; decides the size of the heads' FullyConnected layers. */
  inputSize?: [number, number];
}

export type ResolvedFResNetConfig = Required<FResNetConfig> & { family: 'fresnet' };

const unitVersions: readonly UnitVersion[] = [1, 2, 3, '3_x'];

export function resolveFResNetConfig(config: FResNetConfig): ResolvedFResNetConfig {
  const name = config.name ?? 'fresnet';
  if (config.unit === (4 as unknown)) throw new Error(`${name}: unit 4 calls residual_unit_v4, which InsightFace's MXNet fresnet.py does not define; use 1, 2, 3 or '3_x'`);
  if (!unitVersions.includes(config.unit ?? 3)) throw new Error(`${name}: unit must be one of 1, 2, 3, '3_x', got ${JSON.stringify(config.unit)}`);
  const depth = checkInteger(name, 'depth', config.depth ?? 50, 1);
  let units: number[];
  if (config.units !== undefined) {
    units = checkIntegerList(name, 'units', config.units, 1, 4);
  } else {
    const known = fresnetDepths[depth];
    if (!known) throw new Error(`${name}: no experiments done on depth ${depth} (InsightFace's MXNet fresnet.py has ${Object.keys(fresnetDepths).join(', ')}); give units: [a, b, c, d]`);
    units = [...known];
  }
  const inputSize = config.inputSize ?? [112, 112];
  checkIntegerList(name, 'inputSize', inputSize, 1, 2);
  return {
    family: 'fresnet',
    name,
    depth,
    units,
    unit: config.unit ?? 3,
    input: checkInputVersion(name, config.input ?? 1),
    act: checkChoice(name, 'act', config.act ?? 'prelu', ['relu', 'prelu'] as const),
    se: checkBoolean(name, 'se', config.se ?? false),
    head: checkChoice(name, 'head', config.head ?? 'E', headKinds),
    embeddingSize: checkInteger(name, 'embeddingSize', config.embeddingSize ?? 512, 1),
    bottleneck: checkBoolean(name, 'bottleneck', config.bottleneck ?? depth >= 500),
    inputSize: [inputSize[0], inputSize[1]],
  };
}

function checkInputVersion(name: string, value: unknown): InputVersion {
  if (value !== 0 && value !== 1 && value !== 2) throw new Error(`${name}: input must be 0, 1 or 2, got ${JSON.stringify(value)}`);
  return value;
}

/** Output size of a stride-2 convolution that pads to keep stride-1 sizes (3x3 pad 1, 1x1 pad 0, 7x7 pad 3). */
const halve = (size: number): number => Math.floor((size - 1) / 2) + 1;

export interface FResNetBuildOptions {
  /** false skips the weight initialisation (the weights are about to be loaded). */
  init?: boolean;
}

export class FResNet extends EmbeddingModel {
  readonly config: ResolvedFResNetConfig;
  readonly preprocessing: EmbeddingPreprocessing;
  readonly embeddingSize: number;
  readonly stages: Stage[] = [];
  /** The layers before the stages, in call order (bn_data, conv0, bn0, relu0). */
  readonly #stem: Module[] = [];
  /** convd, bnd, relud after bottleneck stages. */
  readonly #tail: Module[] = [];
  readonly #head: EmbeddingHead;

  constructor(config: FResNetConfig, options: FResNetBuildOptions = {}) {
    const resolved = resolveFResNetConfig(config);
    const spec = { inputVersion: resolved.input, widths: resolved.bottleneck ? [64, 256, 512, 1024, 2048] : [64, 64, 128, 256, 512] };
    super(resolved.name);
    this.config = resolved;
    this.preprocessing = { inputSize: [3, ...resolved.inputSize], channels: 'RGB', normalize: null };
    const [stemWidth, ...stageWidths] = spec.widths;
    let size = [...resolved.inputSize];
    if (resolved.input === 2) this.#stem.push(this.registerModule('bn_data', new FixedGammaBatchNorm(3)));
    if (resolved.input === 0) {
      this.#stem.push(this.registerModule('conv0', conv(3, stemWidth, 7, 2)));
      size = size.map(halve);
    } else {
      this.#stem.push(this.registerModule('conv0', conv(3, stemWidth, 3, 1)));
    }
    this.#stem.push(this.registerModule('bn0', batchNorm2d(stemWidth)), this.registerModule('relu0', act(resolved.act, stemWidth)));
    let channels = stemWidth;
    stageWidths.forEach((width, i) => {
      const stage = this.registerModule(`stage${i + 1}`, new Stage());
      for (let j = 0; j < resolved.units[i]; j++) {
        const first = j === 0;
        const unit = residualUnit(resolved.unit, resolved.input, {
          inChannels: channels,
          numFilter: width,
          stride: first ? 2 : 1,
          dimMatch: !first,
          bottleneck: resolved.bottleneck,
          act: resolved.act,
          se: resolved.se,
        });
        stage.append(unit as Module<Tensor, Tensor>, `unit${j + 1}`);
        channels = width;
      }
      size = size.map(halve);
      this.stages.push(stage);
    });
    if (resolved.bottleneck) {
      this.#tail.push(this.registerModule('convd', conv(channels, 512, 1, 1)), this.registerModule('bnd', batchNorm2d(512)), this.registerModule('relud', act(resolved.act, 512)));
      channels = 512;
    }
    this.#head = addEmbeddingHead(this, resolved.head, { channels, spatial: [size[0], size[1]], embeddingSize: resolved.embeddingSize, act: resolved.act });
    this.embeddingSize = this.#head.outputSize;
    if (options.init ?? true) initResNetWeights(this, false);
  }

  protected embedding(input: Tensor): Tensor {
    // Input versions 0 and 1 scale raw pixels inside the graph, as the seed: (x - 127.5) / 128.
    const scaled = this.config.input === 2 ? input : input.sub(127.5).mul(0.0078125);
    const features = runChain(scaled, [...this.#stem, ...this.stages, ...this.#tail]);
    return this.#head.forward(features);
  }

  clone(): FResNet {
    return this.copyStateInto(new FResNet(this.config, { init: false }));
  }

  override describe(): string {
    return `${this.name} (FResNet, ${describeFResNet(this.config)}, ${this.embeddingSize}-d)`;
  }
}

const paper = 'Deng, Guo, Xue, Zafeiriou. ArcFace: Additive Angular Margin Loss for Deep Face Recognition. CVPR 2019 (arXiv:1801.07698); InsightFace fresnet.py';

function describeFResNet(c: ResolvedFResNetConfig): string {
  const bottleneck = c.bottleneck ? ', bottleneck' : '';
  return `units [${c.units.join(', ')}], unit ${c.unit}, input ${c.input}, ${c.act}, SE ${c.se ? 'on' : 'off'}, head ${c.head}${bottleneck}`;
}

/** InsightFace's default configuration at `depth`: InsightFace calls it LResNet<depth>E-IR. */
const variant = (depth: number): VariantDefinition<FResNetConfig> => ({
  config: { depth },
  description: `LResNet${depth}E-IR: units [${fresnetDepths[depth].join(', ')}], unit 3, input 1, PReLU, head E, 512-d`,
});

export const fresnetFamily = defineFamily({
  family: 'fresnet',
  kind: 'embedding',
  title: 'FResNet',
  paper,
  options: {
    name: 'string',
    depth: `a depth of InsightFace's MXNet fresnet.py's table: ${Object.keys(fresnetDepths).join(', ')}`,
    units: 'list of 4 integers >= 1 (units per stage; overrides depth)',
    unit: "1 | 2 | 3 | '3_x'",
    input: '0 | 1 | 2',
    act: "'relu' | 'prelu'",
    se: 'boolean',
    head: headKinds.map((kind) => `'${kind}'`).join(' | '),
    embeddingSize: 'integer >= 1',
    bottleneck: 'boolean',
    inputSize: '[height, width]',
  },
  resolve: resolveFResNetConfig,
  build: (config: ResolvedFResNetConfig, options) => new FResNet(config, options),
  describe: describeFResNet,
  // Raw 0..255 pixels: the network scales them itself.
  pretrained: (c: ResolvedFResNetConfig) => ({ inputSize: [3, ...c.inputSize], cropPct: 1, interpolation: 'bilinear', mean: [0, 0, 0], std: [1, 1, 1], numClasses: 0, firstConv: 'conv0', classifier: '' }),
  // An MXNet checkpoint (arg:conv0_weight, aux:bn0_moving_mean, ...) loads through the key map.
  filterStateDict: mxnetKeyFilter,
  variants: {
    fresnet18: variant(18),
    fresnet34: variant(34),
    fresnet49: variant(49),
    fresnet50: variant(50),
    fresnet74: variant(74),
    fresnet90: variant(90),
    fresnet98: variant(98),
    fresnet99: variant(99),
    fresnet100: variant(100),
    fresnet101: variant(101),
    fresnet124: variant(124),
    fresnet134: variant(134),
    fresnet136: variant(136),
    fresnet140: variant(140),
    fresnet152: variant(152),
    fresnet160: variant(160),
    fresnet200: variant(200),
    fresnet269: variant(269),
  },
});
