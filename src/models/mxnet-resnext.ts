// The MXNet ResNeXt of tornadomeet's symbol_resnext.py, which MXNet's
// model zoo checkpoints were trained from, built as its `resnext()` builds it: a
// fixed-gamma BatchNorm `bn_data` on the raw input, a 7x7 stride-2 conv0, bn0, ReLU and
// a 3x3 stride-2 max-pool, stages of units `stage{i}_unit{j}` (stage 1 at stride 1, the
// others at 2) whose first unit always projects its shortcut (`sc` convolution and
// `sc_bn`), even in stage 1; global average pooling and `fc1` (the logits: the
// SoftmaxOutput the symbol ends with is left to the loss). Bottleneck units are
// numFilter / 2 wide with the grouped 3x3 carrying the stride; basic units ignore
// numGroup (so symbol_resnext.py's "ResNeXt 34" is not grouped). BatchNorm eps 2e-5, MXNet's
// momentum 0.9. Module names are MXNet's, so the MXNet key map is mechanical.
import { CheckpointError } from '../io/errors.js';
import { attrNumbers, readMxnetCheckpoint, SymbolIndex, type MxnetSymbol } from '../io/mxnet-symbol.js';
import { ClassifierHead } from '../layers/classifier-head.js';
import { inlineInto } from '../layers/inline.js';
import { ReLU } from '../nn/activation.js';
import type { BatchNorm2d } from '../nn/batchnorm.js';
import type { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import { MaxPool2d } from '../nn/pooling.js';
import type { StateDict } from '../io/types.js';
import { dispose } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { ImageClassifier, type FeatureInfo, type ResolvedCommonConfig, type TrunkStep } from './classifier.js';
import { defineFamily, type CommonConfig } from './family.js';
import { batchNorm2d, conv, FixedGammaBatchNorm } from './fresnet-layers.js';
import { initResNetWeights, runChain, Stage } from './layers.js';
import { loadCheckpoint } from './load.js';
import { mxnetKeyFilter } from './mxnet-names.js';
import { checkBoolean, checkInteger, checkIntegerList, commonOptionKinds, resolveCommonOptions } from './options.js';

export interface MxnetResNeXtConfig extends CommonConfig {
  family?: 'resnext';
  /** Units per stage (default [3, 4, 6, 3]). */
  units?: number[];
  /** The stem's width, then each stage's (default [64, 64, 128, 256, 512], symbol_resnext.py's ResNeXt 34). */
  filterList?: number[];
  /** Groups of the bottleneck's 3x3 convolution (default 32; basic units have none). */
  numGroup?: number;
  bottleneck?: boolean;
}

export type ResolvedMxnetResNeXtConfig = Required<MxnetResNeXtConfig> & ResolvedCommonConfig & { family: 'resnext' };

export function resolveMxnetResNeXtConfig(config: MxnetResNeXtConfig): ResolvedMxnetResNeXtConfig {
  const name = config.name ?? 'resnext';
  const units = checkIntegerList(name, 'units', config.units ?? [3, 4, 6, 3], 1);
  const filterList = checkIntegerList(name, 'filterList', config.filterList ?? [64, 64, 128, 256, 512], 1, units.length + 1);
  const numGroup = checkInteger(name, 'numGroup', config.numGroup ?? 32, 1);
  const bottleneck = checkBoolean(name, 'bottleneck', config.bottleneck ?? false);
  if (bottleneck) {
    for (const width of filterList.slice(1)) {
      const inner = Math.floor(width * 0.5);
      if (inner % numGroup !== 0) throw new Error(`${name}: a bottleneck of width ${width} is ${inner} wide inside, which ${numGroup} groups do not divide`);
    }
  }
  const common = resolveCommonOptions(name, config, { numClasses: 1000, outputStride: 32, outputStrides: [32] });
  return { ...common, family: 'resnext', units, filterList, numGroup, bottleneck };
}

/** symbol_resnext.py's residual_unit: post-activation units with a ReLU after the sum (`_relu`). */
export class ResNeXtUnit extends Module {
  readonly branch: Module[] = [];
  readonly sc: Conv2d | null;
  readonly sc_bn: BatchNorm2d | null;
  readonly relu: ReLU;

  constructor(inChannels: number, numFilter: number, stride: number, dimMatch: boolean, bottleneck: boolean, numGroup: number) {
    super();
    // [kernel, width, stride, groups] per convolution of the branch.
    const inner = Math.floor(numFilter * 0.5);
    const layers: [number, number, number, number][] = bottleneck
      ? [[1, inner, 1, 1], [3, inner, stride, numGroup], [1, numFilter, 1, 1]]
      : [[3, numFilter, stride, 1], [3, numFilter, 1, 1]];
    let channels = inChannels;
    layers.forEach(([kernel, width, layerStride, groups], i) => {
      this.branch.push(this.registerModule(`conv${i + 1}`, conv(channels, width, kernel, layerStride, groups)));
      this.branch.push(this.registerModule(`bn${i + 1}`, batchNorm2d(width)));
      if (i < layers.length - 1) this.branch.push(this.registerModule(`relu${i + 1}`, new ReLU(true)));
      channels = width;
    });
    this.sc = dimMatch ? null : this.registerModule('sc', conv(inChannels, numFilter, 1, stride));
    this.sc_bn = dimMatch ? null : this.registerModule('sc_bn', batchNorm2d(numFilter));
    this.relu = this.registerModule('relu', new ReLU(true));
  }

  forward(input: Tensor): Tensor {
    const shortcut = this.sc ? this.sc_bn!.call(this.sc.call(input)) : input;
    return this.relu.call(runChain(input, this.branch).add(shortcut));
  }
}

export class MxnetResNeXt extends ImageClassifier<ResolvedMxnetResNeXtConfig> {
  readonly classifierHead: ClassifierHead;
  readonly featureInfo: FeatureInfo[] = [];
  readonly stages: Stage[] = [];
  readonly #trunkNames: string[];

  constructor(config: MxnetResNeXtConfig, options: { init?: boolean } = {}) {
    const resolved = resolveMxnetResNeXtConfig(config);
    super(resolved);
    const { filterList, units, bottleneck, numGroup } = resolved;
    this.registerModule('bn_data', new FixedGammaBatchNorm(resolved.inChans));
    this.registerModule('conv0', conv(resolved.inChans, filterList[0], 7, 2));
    this.registerModule('bn0', batchNorm2d(filterList[0]));
    this.registerModule('relu0', new ReLU(true));
    this.featureInfo.push({ numChs: filterList[0], reduction: 2, module: 'relu0' });
    this.registerModule('pool0', new MaxPool2d(3, { stride: 2, padding: 1 }));
    let channels = filterList[0];
    let reduction = 4;
    units.forEach((count, i) => {
      const stride = i === 0 ? 1 : 2;
      reduction *= stride;
      const stage = this.registerModule(`stage${i + 1}`, new Stage());
      for (let j = 0; j < count; j++) {
        stage.append(new ResNeXtUnit(channels, filterList[i + 1], j === 0 ? stride : 1, j !== 0, bottleneck, numGroup), `unit${j + 1}`);
        channels = filterList[i + 1];
      }
      this.stages.push(stage);
      this.featureInfo.push({ numChs: channels, reduction, module: `stage${i + 1}` });
    });
    this.classifierHead = inlineInto(this, new ClassifierHead(channels, resolved.numClasses, {
      globalPool: resolved.globalPool,
      dropRate: resolved.dropRate,
      names: { pool: 'pool1', drop: 'drop', fc: 'fc1' },
    }));
    this.#trunkNames = ['bn_data', 'conv0', 'bn0', 'relu0', 'pool0', ...this.stages.map((_, i) => `stage${i + 1}`)];
    if (options.init ?? true) initResNetWeights(this, false);
  }

  trunk(): TrunkStep[] {
    return this.#trunkNames.map((name) => [name, this.getModule(name) as Module]);
  }
}

const describeConfig = (c: ResolvedMxnetResNeXtConfig) =>
  `${c.bottleneck ? `bottleneck units, ${c.numGroup} groups` : 'basic units'}, units [${c.units.join(', ')}], filter list [${c.filterList.join(', ')}]`;

const bottleneck50 = { filterList: [64, 256, 512, 1024, 2048], numGroup: 32, bottleneck: true };

export const mxnetResNeXtFamily = defineFamily({
  family: 'resnext',
  title: 'MxnetResNeXt',
  paper: "Xie, Girshick, Dollar, Tu, He. Aggregated Residual Transformations for Deep Neural Networks. CVPR 2017 (arXiv:1611.05431); tornadomeet's MXNet symbol_resnext.py",
  options: {
    ...commonOptionKinds,
    units: 'list of integers >= 1 (units per stage)',
    filterList: 'list of integers >= 1: the stem width, then one per stage',
    numGroup: 'integer >= 1 (groups of the bottleneck 3x3)',
    bottleneck: 'boolean',
  },
  resolve: resolveMxnetResNeXtConfig,
  build: (config: ResolvedMxnetResNeXtConfig, options) => new MxnetResNeXt(config, options),
  describe: describeConfig,
  // MXNet's model zoo feeds raw 0..255 RGB pixels: bn_data normalises them.
  pretrained: () => ({ inputSize: [3, 224, 224], cropPct: 0.875, interpolation: 'bilinear', mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255], numClasses: 1000, firstConv: 'conv0', classifier: 'fc1' }),
  filterStateDict: mxnetKeyFilter,
  variants: {
    mxnet_resnext34: { config: { units: [3, 4, 6, 3] }, description: "The default of the MXNet ResNeXt symbol (symbol_resnext.py): basic units 3-4-6-3, widths 64-128-256-512 (numGroup unused)" },
    mxnet_resnext50_32x4d: { config: { units: [3, 4, 6, 3], ...bottleneck50 }, description: 'MXNet model zoo ResNeXt-50 32x4d: bottleneck units 3-4-6-3, 32 groups' },
    mxnet_resnext101_32x4d: { config: { units: [3, 4, 23, 3], ...bottleneck50 }, description: 'MXNet model zoo ResNeXt-101 32x4d: bottleneck units 3-4-23-3, 32 groups' },
  },
});

// ---- MXNet checkpoints: the configuration from prefix-symbol.json ------------------

/** The configuration a symbol of symbol_resnext.py describes: units, filter list, groups, bottleneck, classes. */
export function mxnetResNeXtConfigFromSymbol(symbol: MxnetSymbol, source: string): MxnetResNeXtConfig {
  const index = new SymbolIndex(symbol, source, "a symbol_resnext.py ResNeXt");
  if (!index.node('bn_data') || !index.node('stage1_unit1_sc_bn')) throw new CheckpointError(`${source}: no bn_data / stage1_unit1_sc_bn nodes; is this a symbol_resnext.py ResNeXt symbol?`);
  const units = index.stageUnits();
  const bottleneck = index.node('stage1_unit1_conv3') !== undefined;
  const last = bottleneck ? 'conv3' : 'conv2';
  const filters = (name: string) => attrNumbers(index.require(name, 'a convolution').attrs.num_filter)[0];
  const filterList = [filters('conv0'), ...units.map((_, i) => filters(`stage${i + 1}_unit1_${last}`))];
  const config: MxnetResNeXtConfig = { units, filterList, bottleneck, numClasses: attrNumbers(index.require('fc1', 'the classifier').attrs.num_hidden)[0] };
  if (bottleneck) config.numGroup = attrNumbers(index.require('stage1_unit1_conv2', 'the grouped convolution').attrs.num_group)[0] ?? 1;
  return config;
}

/**
 * Builds the ResNeXt `prefix-0000.params` holds, configured by the `prefix-symbol.json`
 * beside it (`overrides` replace what the symbol says), and loads the weights through the
 * MXNet key map. The file's tensors are freed; the caller owns the model.
 */
export function loadMxnetResNeXtCheckpoint(paramsPath: string, overrides: MxnetResNeXtConfig = {}): MxnetResNeXt {
  const { symbol, symbolPath, params } = readMxnetCheckpoint(paramsPath, 'mxnet_resnext50_32x4d');
  try {
    const model = new MxnetResNeXt({ name: 'resnext', ...mxnetResNeXtConfigFromSymbol(symbol, symbolPath), ...overrides }, { init: false });
    try {
      loadCheckpoint(model, params, { source: paramsPath });
      return model;
    } catch (error) {
      model.dispose();
      throw error;
    }
  } finally {
    dispose(params);
  }
}

// ---- torchvision's layout, where the architectures coincide -------------------------

/**
 * Our key of an MXNet ResNeXt as torchvision's ResNet/ResNeXt key: conv0/bn0 are
 * conv1/bn1, stage{i}.unit{j} is layer{i}.{j-1}, the projection sc/sc_bn is
 * downsample.0/.1, fc1 is fc. bn_data has no counterpart (undefined).
 */
export function torchvisionKeyOf(key: string): string | undefined {
  if (key.startsWith('bn_data.')) return undefined;
  return key
    .replace(/^conv0\./, 'conv1.')
    .replace(/^bn0\./, 'bn1.')
    .replace(/^fc1\./, 'fc.')
    .replace(/^stage(\d+)\.unit(\d+)\./, (_, stage: string, unit: string) => `layer${stage}.${Number(unit) - 1}.`)
    .replace(/\.sc\./, '.downsample.0.')
    .replace(/\.sc_bn\./, '.downsample.1.');
}

/**
 * An MXNet ResNeXt state dict (our keys) in torchvision's layout for `target` (a state
 * dict of the torchvision model's keys; the checks serve the other direction too, with
 * the MXNet model's own state dict as `dict`): what has no place there is listed in `left`
 * (bn_data; the stage-1 projection of basic nets, which torchvision's stage 1 lacks), and
 * a key torchvision needs that the checkpoint cannot give, or a tensor of another shape, is an error.
 */
export function toTorchvisionLayout(dict: StateDict, target: StateDict): { dict: StateDict; left: string[] } {
  const out: StateDict = {};
  const left: string[] = [];
  for (const [key, tensor] of Object.entries(dict)) {
    const renamed = torchvisionKeyOf(key);
    if (renamed === undefined || !Object.hasOwn(target, renamed)) left.push(key);
    else if (Object.hasOwn(out, renamed)) throw new CheckpointError(`${key} and another key both map to torchvision's ${renamed}: not an MXNet ResNeXt's weights`);
    else Object.defineProperty(out, renamed, { value: tensor, enumerable: true });
  }
  const misfits = Object.keys(out).filter((key) => out[key].shape.join('x') !== target[key].shape.join('x'));
  if (misfits.length > 0) {
    const shown = misfits.slice(0, 2).map((key) => `${key}: MXNet ResNeXt [${out[key].shape.join(', ')}], torchvision [${target[key].shape.join(', ')}]`);
    throw new CheckpointError(`the MXNet ResNeXt and the torchvision model differ in ${misfits.length} tensor shape(s) (${shown.join('; ')}${misfits.length > 2 ? '; ...' : ''}): the architectures differ`);
  }
  const missing = Object.keys(target).filter((key) => !Object.hasOwn(out, key));
  if (missing.length > 0) throw new CheckpointError(`the MXNet ResNeXt has no counterpart of torchvision's ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ` and ${missing.length - 4} more` : ''}: the architectures differ`);
  return { dict: out, left };
}
