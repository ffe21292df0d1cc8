// The MXNet key map of fresnet, both ways: our `stage1.unit1.conv1sc.weight`,
// `bn0.running_var`, `relu0.weight`, `fc1.weight` are MXNet's
// `arg:stage1_unit1_conv1sc_weight`, `aux:bn0_moving_var`, `arg:relu0_gamma`,
// `arg:fc1_gamma`: module paths joined by '_', BatchNorm weight/bias/running statistics
// as gamma/beta/moving_mean/moving_var (the moving ones 'aux:'), PReLU's weight as
// gamma, the shared SqueezeExcite's fc1 / act / fc2 as fresnet.py's se_conv1 / se_relu1 /
// se_conv2. PyTorch's num_batches_tracked has no MXNet counterpart.
import { CheckpointError } from '../io/errors.js';
import type { StateDict } from '../io/types.js';
import { PReLU } from '../nn/activation.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import type { Module } from '../nn/module.js';
import { SqueezeExcite } from '../layers/squeeze-excite.js';
import { dispose } from '../torch/scope.js';
import { FixedGammaBatchNorm } from './fresnet-layers.js';

type AnyModule = Module<never, unknown> & { describe?(): string };

const batchNormNames: Record<string, string> = { weight: 'gamma', bias: 'beta', running_mean: 'moving_mean', running_var: 'moving_var' };

export interface MxnetName {
  /** Our state-dict key. */
  key: string;
  /** MXNet's name with its 'arg:' or 'aux:' prefix, as mx.model.save_checkpoint writes it. */
  mxnet: string;
}

/** Every state-dict key of `model` with its MXNet name; num_batches_tracked has none and is left out. */
/** fresnet.py's names for the children of its SE block. */
const squeezeExciteNames: Record<string, string> = { fc1: 'conv1', act: 'relu1', fc2: 'conv2' };

/** A module path in MXNet's spelling: segments joined by '_', SE children renamed. */
function mxnetPath(path: string, modules: Map<string, Module<unknown, unknown>>): string {
  const segments = path.split('.');
  return segments
    .map((segment, i) => (modules.get(segments.slice(0, i).join('.')) instanceof SqueezeExcite ? (squeezeExciteNames[segment] ?? segment) : segment))
    .join('_');
}

export function mxnetNames(model: AnyModule): MxnetName[] {
  const modules = new Map(model.namedModules());
  const names: MxnetName[] = [];
  const views = model.stateDict();
  const keys = Object.keys(views);
  dispose(views);
  for (const key of keys) {
    const dot = key.lastIndexOf('.');
    const [path, tensor] = [key.slice(0, dot), key.slice(dot + 1)];
    const module = modules.get(path);
    if (tensor === 'num_batches_tracked') continue;
    let name = tensor;
    if (module instanceof BatchNorm2d || module instanceof FixedGammaBatchNorm) name = batchNormNames[tensor] ?? tensor;
    else if (module instanceof PReLU) name = 'gamma';
    const kind = name.startsWith('moving_') ? 'aux' : 'arg';
    names.push({ key, mxnet: `${kind}:${mxnetPath(path, modules)}_${name}` });
  }
  return names;
}

/** The model's own tensors under MXNet's names ('arg:conv0_weight', 'aux:bn0_moving_mean'), as stateDict() gives them. */
export function toMxnetParams(model: AnyModule): StateDict {
  const names = mxnetNames(model);
  const own = model.stateDict();
  const out: StateDict = {};
  for (const { key, mxnet } of names) Object.defineProperty(out, mxnet, { value: own[key], enumerable: true });
  const kept = new Set(names.map(({ key }) => key));
  dispose(Object.entries(own).filter(([key]) => !kept.has(key)).map(([, view]) => view));
  return out;
}

/** MXNet parameters InsightFace keeps in training checkpoints that are not part of the embedding network. */
const trainingOnly = /^(arg:|aux:)?fc7_/;

/**
 * `params` (names with or without 'arg:'/'aux:') as a state dict of `model`'s keys,
 * sharing the tensors; the margin-loss class centres (fc7_*) are listed in `ignored`.
 * Any other name the model lacks, or a name it needs and `params` lacks, is an error.
 */
export function fromMxnetParams(model: AnyModule, params: StateDict, source: string): { dict: StateDict; ignored: string[] } {
  const byBareName = new Map<string, string>();
  for (const name of Object.keys(params)) byBareName.set(name.replace(/^(arg|aux):/, ''), name);
  const dict: StateDict = {};
  const missing: string[] = [];
  const used = new Set<string>();
  for (const { key, mxnet } of mxnetNames(model)) {
    const stored = byBareName.get(mxnet.slice(4));
    if (stored === undefined) missing.push(mxnet.slice(4));
    else {
      used.add(stored);
      Object.defineProperty(dict, key, { value: params[stored], enumerable: true });
    }
  }
  const unused = Object.keys(params).filter((name) => !used.has(name));
  const ignored = unused.filter((name) => trainingOnly.test(name));
  const unexpected = unused.filter((name) => !trainingOnly.test(name));
  if (missing.length > 0 || unexpected.length > 0) {
    const list = (names: string[]) => (names.length <= 4 ? names.join(', ') : `${names.slice(0, 4).join(', ')} and ${names.length - 4} more`);
    const parts = [missing.length > 0 ? `missing ${list(missing)}` : '', unexpected.length > 0 ? `unexpected ${list(unexpected)}` : ''].filter(Boolean);
    throw new CheckpointError(`${source} does not fit ${model.describe?.() ?? model.constructor.name}: ${parts.join('; ')}`);
  }
  // PyTorch's batch counters have no MXNet counterpart: the model keeps its own.
  for (const [key, tensor] of Object.entries(model.stateDict())) {
    if (key.endsWith('.num_batches_tracked')) Object.defineProperty(dict, key, { value: tensor, enumerable: true });
    else tensor.dispose();
  }
  return { dict, ignored };
}

/** Whether `dict` is named as MXNet names parameters ('arg:conv0_weight', or bare 'conv0_weight' with no dotted key). */
export function looksLikeMxnetParams(dict: StateDict): boolean {
  const keys = Object.keys(dict);
  return keys.length > 0 && (keys.every((key) => /^(arg|aux):/.test(key)) || (keys.every((key) => !key.includes('.')) && keys.some((key) => key.endsWith('_weight'))));
}

/** A family's key filter (FamilyDefinition.filterStateDict): an MXNet-named checkpoint is renamed through the key map. */
export function mxnetKeyFilter(dict: StateDict, model: AnyModule): StateDict {
  return looksLikeMxnetParams(dict) ? fromMxnetParams(model, dict, 'the MXNet checkpoint').dict : dict;
}
