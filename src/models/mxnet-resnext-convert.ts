// torchvision's ResNet/ResNeXt layout into the MXNet ResNeXt of symbol_resnext.py, and
// that net written as MXNet's two checkpoint files. Where the architectures coincide
// (the bottleneck ResNeXt-50/101 32x4d; a basic net, whose stage-1 projection MXNet has
// and torchvision lacks), what torchvision has no counterpart for is filled in so that
// the MXNet net computes torchvision's function:
// - bn_data (a fixed-gamma BatchNorm on the raw input) as the identity: beta 0, mean 0,
//   var 1 - eps, so (x - 0) / sqrt(var + eps) = x; or, given a normalisation, that
//   normalisation (mean, var std^2 - eps), so the net takes raw pixels as MXNet's do;
// - a basic net's stage-1 projection (a 1x1 C->C convolution at stride 1 and sc_bn) as
//   the identity matrix and an identity BatchNorm;
// - the eps difference (torchvision 1e-5, MXNet 2e-5): each running_var is lowered by
//   the difference, so var + eps, and the output, stay what they were.
import { CheckpointError } from '../io/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MxnetSymbolWriter, symbolPathFor, tupleAttr } from '../io/mxnet-symbol.js';
import { saveMxnetParams } from '../io/mxnet-params.js';
import type { StateDict } from '../io/types.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { pyFloat } from '../nn/repr.js';
import { eye, full, ones, tensor as tensorOf, zeros } from '../torch/creation.js';
import { dispose, tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { FixedGammaBatchNorm, FRESNET_EPS } from './fresnet-layers.js';
import { loadCheckpoint, withoutDataParallelPrefix } from './load.js';
import { toMxnetParams } from './mxnet-names.js';
import { toTorchvisionLayout, torchvisionKeyOf, type MxnetResNeXt, type ResolvedMxnetResNeXtConfig } from './mxnet-resnext.js';

/** nn.BatchNorm2d's default eps, which torchvision's ResNets use. */
export const TORCHVISION_EPS = 1e-5;

export interface FromTorchvisionOptions {
  /** The checkpoint's BatchNorm eps (default torchvision's 1e-5). */
  sourceEps?: number;
  /** Lower each running_var by the eps difference so outputs stay the same (default true); false copies the variances as they are. */
  compensateEps?: boolean;
  /** An input normalisation for bn_data to apply, in the input's units (0..255 pixels: ImageNet's mean and std times 255); default the identity. */
  inputNormalization?: { mean: number[]; std: number[] };
}

export interface FromTorchvisionResult {
  /** What was filled in or changed, one sentence each. */
  notes: string[];
}

/**
 * Loads a torchvision-layout state dict (`resnext50_32x4d`'s keys) into `model`,
 * filling in and adjusting as the file's comment says. Refuses, naming the keys or
 * shapes, a checkpoint whose architecture does not coincide with the model's (its
 * tensors are copied; `checkpoint` stays the caller's).
 */
export function loadTorchvisionIntoMxnetResNeXt(model: MxnetResNeXt, checkpoint: StateDict, options: FromTorchvisionOptions = {}, source = 'the torchvision checkpoint'): FromTorchvisionResult {
  const dict = withoutDataParallelPrefix(checkpoint);
  const sourceEps = options.sourceEps ?? TORCHVISION_EPS;
  const compensate = options.compensateEps ?? true;
  const own = model.stateDict();
  const made: Tensor[] = [];
  const make = (value: Tensor) => (made.push(value), value);
  const notes: string[] = [];
  try {
    // The same key map and checks as the other direction, with the roles swapped: `left`
    // is what the MXNet net has and torchvision lacks.
    const { dict: renamed, left } = toTorchvisionLayout(own, dict);
    const loaded: StateDict = {};
    const put = (key: string, value: Tensor) => Object.defineProperty(loaded, key, { value, enumerable: true, configurable: true });
    const fromCheckpoint = new Set<string>();
    for (const key of Object.keys(own)) {
      const tvKey = torchvisionKeyOf(key);
      if (tvKey === undefined || !Object.hasOwn(renamed, tvKey)) continue;
      put(key, dict[tvKey]);
      fromCheckpoint.add(key);
    }
    const modules = new Map(model.namedModules());
    const filledUnits = new Set<string>();
    const unfillable: string[] = [];
    for (const key of left) {
      const path = key.slice(0, key.lastIndexOf('.'));
      const module = modules.get(path);
      if (key.endsWith('.num_batches_tracked')) put(key, own[key]);
      else if (module instanceof FixedGammaBatchNorm) put(key, make(inputNormTensor(key, module, options.inputNormalization)));
      else if (/^stage\d+\.unit1\.sc(_bn)?$/.test(path) && identityProjectionFits(modules.get(path.replace(/_bn$/, '')))) {
        put(key, make(identityTensor(key, module)));
        filledUnits.add(path.replace(/\.sc(_bn)?$/, ''));
      } else unfillable.push(key);
    }
    if (unfillable.length > 0) {
      const shown = unfillable.length <= 4 ? unfillable.join(', ') : `${unfillable.slice(0, 4).join(', ')} and ${unfillable.length - 4} more`;
      throw new CheckpointError(`${source} has nothing for ${model.describe()}'s ${shown}, which cannot be filled in as an identity: the architectures differ`);
    }
    if (compensate) {
      let negative = 0;
      for (const [path, module] of modules) {
        if (!(module instanceof BatchNorm2d) || !fromCheckpoint.has(`${path}.running_var`)) continue;
        const adjusted = make(loaded[`${path}.running_var`].sub(module.eps - sourceEps));
        negative += tidy(() => adjusted.lt(0).sum().item());
        put(`${path}.running_var`, adjusted);
      }
      notes.push(`BatchNorm eps: ${pyFloat(FRESNET_EPS)} in MXNet, ${pyFloat(sourceEps)} in the checkpoint; every running_var was ${FRESNET_EPS > sourceEps ? 'lowered' : 'raised'} by the difference so var + eps, and the outputs, stay the same (to float32 rounding)` +
        (negative > 0 ? `; ${negative} channel(s) whose variance was below ${pyFloat(FRESNET_EPS - sourceEps)} now store a negative running_var (var + eps stays positive)` : ''));
    } else {
      notes.push(`BatchNorm eps: ${pyFloat(FRESNET_EPS)} in MXNet, ${pyFloat(sourceEps)} in the checkpoint; the variances were copied as they are, so outputs differ slightly from the checkpoint's model`);
    }
    const norm = options.inputNormalization;
    notes.push(norm
      ? `bn_data (fixed gamma) filled in as the input normalisation: moving_mean [${norm.mean.join(', ')}], moving_var std^2 - eps for std [${norm.std.join(', ')}], beta 0: the MXNet net takes unnormalised input`
      : `bn_data (fixed gamma) filled in as the identity: beta 0, moving_mean 0, moving_var 1 - ${pyFloat(FRESNET_EPS)}: the MXNet net takes the checkpoint model's normalised input`);
    if (filledUnits.size > 0) notes.push(`${[...filledUnits].join(', ')}: the projection (sc, sc_bn) that torchvision's first unit lacks filled in as the identity (a 1x1 identity matrix; BatchNorm beta 0, mean 0, var 1 - eps)`);
    loadCheckpoint(model, loaded, { source });
    return { notes };
  } finally {
    dispose(made);
    dispose(own);
  }
}

/** A projection can be the identity where it maps C channels to C at stride 1. */
function identityProjectionFits(conv: unknown): boolean {
  return conv instanceof Conv2d && conv.inChannels === conv.outChannels && conv.stride.every((s) => s === 1);
}

/** The identity's tensors of a 1x1 projection convolution and its BatchNorm. */
function identityTensor(key: string, module: unknown): Tensor {
  if (module instanceof Conv2d) return eye(module.outChannels).reshape([module.outChannels, module.outChannels, 1, 1]);
  const bn = module as BatchNorm2d;
  return batchNormTensor(key, bn.numFeatures, bn.eps, new Array(bn.numFeatures).fill(0), new Array(bn.numFeatures).fill(1));
}

function inputNormTensor(key: string, bn: FixedGammaBatchNorm, norm: FromTorchvisionOptions['inputNormalization']): Tensor {
  const channels = bn.numFeatures;
  const [mean, std] = norm ? [norm.mean, norm.std] : [new Array(channels).fill(0), new Array(channels).fill(1)];
  if (mean.length !== channels || std.length !== channels) throw new Error(`inputNormalization: mean and std need ${channels} values each, got ${mean.length} and ${std.length}`);
  const tooSmall = std.find((s) => !(s * s > bn.eps));
  if (tooSmall !== undefined) throw new Error(`inputNormalization: std ${tooSmall} is not above sqrt(eps) = ${Math.sqrt(bn.eps)}, which bn_data (moving_var = std^2 - eps) cannot express`);
  return batchNormTensor(key, channels, bn.eps, mean, std);
}

/** One of weight/bias/running_mean/running_var of a BatchNorm computing (x - mean) / std. */
function batchNormTensor(key: string, channels: number, eps: number, mean: number[], std: number[]): Tensor {
  const name = key.slice(key.lastIndexOf('.') + 1);
  if (name === 'weight') return ones([channels]);
  if (name === 'bias') return zeros([channels]);
  if (name === 'running_mean') return tensorOf(Float32Array.from(mean));
  if (name === 'running_var') return std.every((s) => s === 1) ? full([channels], 1 - eps) : tensorOf(Float32Array.from(std, (s) => s * s - eps));
  throw new Error(`internal: ${key} is not a BatchNorm tensor`);
}

// ---- and back: the MXNet ResNeXt in torchvision's layout ----------------------------

/**
 * An MXNet ResNeXt's state dict (our keys) renamed for torchvision's `target` (a state
 * dict of the torchvision model's keys), every tensor a new one the caller owns. Each
 * running_var is raised by the eps difference (unless `compensateEps` is false), so the
 * torchvision model computes what the MXNet net computed after bn_data; the notes say
 * what has no place in torchvision's layout, and bn_data's normalisation as the
 * preprocessing the torchvision model then needs.
 */
export function mxnetResNeXtToTorchvision(dict: StateDict, target: StateDict, options: { compensateEps?: boolean } = {}): { dict: StateDict; notes: string[] } {
  const { dict: renamed, left } = toTorchvisionLayout(dict, target);
  const compensate = options.compensateEps ?? true;
  const out: StateDict = {};
  for (const [key, tensor] of Object.entries(renamed)) {
    const value = compensate && key.endsWith('.running_var') ? tensor.add(FRESNET_EPS - TORCHVISION_EPS) : tensor.clone();
    Object.defineProperty(out, key, { value, enumerable: true });
  }
  const notes: string[] = [];
  const kept = left.filter((key) => !key.endsWith('num_batches_tracked'));
  if (kept.length > 0) notes.push(`not carried over: ${kept.join(', ')} (no place in torchvision's layout${kept.some((key) => key.startsWith('stage')) ? "; without the stage-1 projection the torchvision model computes another function" : ''})`);
  notes.push(compensate
    ? `BatchNorm eps: ${pyFloat(TORCHVISION_EPS)} in torchvision, ${pyFloat(FRESNET_EPS)} in MXNet; every running_var was raised by the difference so var + eps, and the outputs, stay the same (to float32 rounding)`
    : `BatchNorm eps: ${pyFloat(TORCHVISION_EPS)} in torchvision, ${pyFloat(FRESNET_EPS)} in MXNet; the variances were copied as they are, so outputs differ slightly`);
  const norm = bnDataNormalization(dict);
  const identity = norm && norm.mean.every((m) => Math.abs(m) < 1e-6) && norm.std.every((s) => Math.abs(s - 1) < 1e-6);
  if (identity) notes.push("bn_data was the identity (mean 0, std 1): the torchvision model takes the MXNet net's input as it is");
  else if (norm) notes.push(`bn_data normalised the input as (x - mean) / std with mean [${norm.mean.map(digits).join(', ')}], std [${norm.std.map(digits).join(', ')}] in the input's units: give the torchvision model input normalised so`);
  return { dict: out, notes };
}

const digits = (value: number) => Number(value.toPrecision(6)).toString();

/** bn_data's (x - m) / sqrt(v + eps) + beta as (x - mean) / std, per channel. */
function bnDataNormalization(dict: StateDict): { mean: number[]; std: number[] } | undefined {
  const [mean, variance, beta] = ['running_mean', 'running_var', 'bias'].map((name) => dict[`bn_data.${name}`]);
  if (!mean || !variance || !beta) return undefined;
  const [m, v, b] = [mean, variance, beta].map((tensor) => Array.from(tensor.toTypedArray() as Float32Array, Number));
  const std = v.map((value) => Math.sqrt(value + FRESNET_EPS));
  return { mean: m.map((value, i) => value - b[i] * std[i]), std };
}

// ---- MXNet's two files ---------------------------------------------------------------

/** symbol_resnext.py's `resnext()` graph for `config`, as Symbol.tojson writes it (ending in SoftmaxOutput 'softmax'). */
export function mxnetResNeXtSymbol(config: ResolvedMxnetResNeXtConfig): object {
  const g = new MxnetSymbolWriter();
  const eps = pyFloat(FRESNET_EPS);
  const bn = (input: number, name: string, fixGamma = false) =>
    g.op('BatchNorm', name, [input], { eps, fix_gamma: fixGamma ? 'True' : 'False', momentum: '0.9' }, ['gamma', 'beta'], ['moving_mean', 'moving_var']);
  const relu = (input: number, name: string) => g.op('Activation', name, [input], { act_type: 'relu' });
  const conv = (input: number, name: string, numFilter: number, kernel: number, stride: number, pad: number | null, numGroup = 1) =>
    g.op('Convolution', name, [input], {
      kernel: tupleAttr([kernel, kernel]),
      no_bias: 'True',
      num_filter: String(numFilter),
      ...(numGroup !== 1 ? { num_group: String(numGroup) } : {}),
      ...(pad !== null ? { pad: tupleAttr([pad, pad]) } : {}),
      stride: tupleAttr([stride, stride]),
      workspace: '256',
    }, ['weight']);
  const unit = (data: number, numFilter: number, stride: number, dimMatch: boolean, name: string) => {
    const inner = Math.floor(numFilter * 0.5);
    const widths = config.bottleneck ? [[1, inner, 1, 1, 0], [3, inner, stride, config.numGroup, 1], [1, numFilter, 1, 1, 0]] : [[3, numFilter, stride, 1, 1], [3, numFilter, 1, 1, 1]];
    let body = data;
    widths.forEach(([kernel, width, layerStride, groups, pad], i) => {
      body = bn(conv(body, `${name}_conv${i + 1}`, width, kernel, layerStride, pad, groups), `${name}_bn${i + 1}`);
      if (i < widths.length - 1) body = relu(body, `${name}_relu${i + 1}`);
    });
    const shortcut = dimMatch ? data : bn(conv(data, `${name}_sc`, numFilter, 1, stride, null), `${name}_sc_bn`);
    return relu(g.op('elemwise_add', g.autoName('_plus'), [body, shortcut], {}), `${name}_relu`);
  };
  let body = bn(g.variable('data'), 'bn_data', true);
  body = relu(bn(conv(body, 'conv0', config.filterList[0], 7, 2, 3), 'bn0'), 'relu0');
  body = g.op('Pooling', g.autoName('pooling'), [body], { kernel: '(3, 3)', pad: '(1, 1)', pool_type: 'max', stride: '(2, 2)' });
  config.units.forEach((count, i) => {
    for (let j = 0; j < count; j++) body = unit(body, config.filterList[i + 1], j === 0 && i > 0 ? 2 : 1, j !== 0, `stage${i + 1}_unit${j + 1}`);
  });
  body = g.op('Pooling', 'pool1', [body], { global_pool: 'True', kernel: '(7, 7)', pool_type: 'avg' });
  const fc1 = g.op('FullyConnected', 'fc1', [g.op('Flatten', g.autoName('flatten'), [body], {})], { num_hidden: String(config.numClasses) }, ['weight', 'bias']);
  return g.toJSON(g.op('SoftmaxOutput', 'softmax', [fc1], {}, ['label']));
}

/**
 * `model` as MXNet's checkpoint: `prefix-symbol.json` (the graph) and `prefix-0000.params`
 * (arg:/aux: parameters), as mx.model.save_checkpoint(prefix, 0, ...) writes them.
 * `prefix` may also be the .params path itself. Returns the two paths.
 */
export function saveMxnetResNeXtCheckpoint(model: MxnetResNeXt, prefix: string): { symbolPath: string; paramsPath: string } {
  if (model.numClasses === 0) throw new Error(`${model.describe()}: a model without its classifier (numClasses 0) has no fc1 for symbol_resnext.py's graph`);
  const paramsPath = /\.params$/i.test(prefix) ? prefix : `${prefix}-0000.params`;
  const symbolPath = symbolPathFor(paramsPath);
  const params = toMxnetParams(model);
  try {
    saveMxnetParams(params, paramsPath);
  } finally {
    dispose(params);
  }
  saveMxnetResNeXtSymbol(model, symbolPath);
  return { symbolPath, paramsPath };
}

/** `model`'s graph as `path` (prefix-symbol.json); returns the path. */
export function saveMxnetResNeXtSymbol(model: MxnetResNeXt, path: string): string {
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(mxnetResNeXtSymbol(model.config), null, 2)));
  return path;
}
