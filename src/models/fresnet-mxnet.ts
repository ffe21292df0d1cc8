// fresnet and MXNet checkpoints (`prefix-symbol.json` + `prefix-0000.params`):
//  - the configuration read back from the symbol (unit and input version, activation,
//    SE, head, units, embedding size; the input size from pre_fc1's weight);
//  - building a model from a checkpoint.
import { CheckpointError } from '../io/errors.js';
import { attrNumbers, readMxnetCheckpoint, SymbolIndex, type MxnetSymbol } from '../io/mxnet-symbol.js';
import type { StateDict } from '../io/types.js';
import { dispose } from '../torch/scope.js';
import type { HeadKind } from './fresnet-heads.js';
import type { UnitVersion } from './fresnet-units.js';
import { FResNet, fresnetDepths, type FResNetConfig, type InputVersion } from './fresnet.js';
import { fromMxnetParams } from './mxnet-names.js';

// ---- the configuration from the symbol ---------------------------------------------

function activationOf(reader: SymbolIndex): 'relu' | 'prelu' {
  const relu0 = reader.require('relu0', 'the stem activation');
  if (relu0.op === 'LeakyReLU' && relu0.attrs.act_type === 'prelu') return 'prelu';
  if (relu0.op === 'Activation' && relu0.attrs.act_type === 'relu') return 'relu';
  throw new CheckpointError(`${reader.source}: relu0 is ${relu0.op}(${relu0.attrs.act_type ?? ''}); fresnet supports relu and prelu`);
}

function inputVersionOf(reader: SymbolIndex): InputVersion {
  if (reader.node('bn_data')) return 2;
  const kernel = attrNumbers(reader.require('conv0', 'the stem convolution').attrs.kernel);
  return kernel[0] === 7 ? 0 : 1;
}

function unitVersionOf(reader: SymbolIndex, input: InputVersion, bottleneck: boolean): UnitVersion {
  const conv1 = reader.require('stage1_unit1_conv1', 'the first unit');
  if (reader.node('stage1_unit1_sc')?.op === 'Convolution') return 2;
  if (reader.inputName(conv1) === 'stage1_unit1_bn1') return attrNumbers(conv1.attrs.num_group)[0] === 32 ? '3_x' : 3;
  // Version 1: the dispatcher picks v1 (stride on the first convolution) for input 0, v1_L otherwise.
  const strided = attrNumbers(conv1.attrs.stride)[0] === 2;
  const expected = input === 0;
  if (strided !== expected) {
    const unit = strided ? 'residual_unit_v1' : 'residual_unit_v1_L';
    throw new CheckpointError(`${reader.source}: unit version 1 as ${unit} with input version ${input}; the dispatcher of InsightFace's MXNet fresnet.py builds ${expected ? 'residual_unit_v1' : 'residual_unit_v1_L'} there${bottleneck ? '' : ''}`);
  }
  return 1;
}

function headOf(reader: SymbolIndex): HeadKind {
  if (reader.node('conv_6dw7_7_conv2d')) return 'GDC';
  if (reader.node('bn6f')) return 'GNAP';
  if (reader.node('pool1') && reader.node('relu1')) return 'GAP';
  const bn1 = reader.node('bn1') !== undefined;
  const dropout = bn1 && reader.readBy('bn1', 'Dropout');
  if (reader.node('pre_fc1')) return !bn1 ? 'J' : dropout ? 'E' : 'FC';
  if (reader.node('fc1')?.op === 'FullyConnected') return !bn1 ? 'H' : dropout ? 'F' : 'G';
  if (bn1 && dropout) return 'Z';
  throw new CheckpointError(`${reader.source}: cannot tell the embedding head (none of get_fc1's pre_fc1, fc1, bn6f, conv_6dw7_7 nodes)`);
}

function embeddingSizeOf(reader: SymbolIndex, head: HeadKind): number | undefined {
  const hidden = (name: string) => attrNumbers(reader.node(name)?.attrs.num_hidden)[0];
  if (head === 'Z') return undefined;
  if (head === 'GNAP') return attrNumbers(reader.node('convx')?.attrs.num_filter)[0] ?? hidden('pre_fc1') ?? 512;
  return hidden('pre_fc1') ?? hidden('fc1');
}

/** The input size pre_fc1's (or fc1's) weight was made for: [512 * h * w] inputs per embedding. */
function inputSizeOf(params: StateDict | undefined, head: HeadKind, input: InputVersion): [number, number] | undefined {
  if (!params || head === 'Z' || head === 'GAP' || head === 'GNAP') return undefined;
  const name = head === 'F' || head === 'G' || head === 'H' ? 'fc1_weight' : 'pre_fc1_weight';
  const weight = params[`arg:${name}`] ?? params[name];
  if (!weight || weight.ndim !== 2) return undefined;
  let side = Math.round(Math.sqrt(weight.shape[1] / 512));
  if (head === 'GDC') side += 6;
  return [side * (input === 0 ? 32 : 16), side * (input === 0 ? 32 : 16)];
}

/** The depth of the table with these units (the largest, so [3, 4, 14, 3] is 50, not 49). */
function depthOf(units: number[]): number | undefined {
  const matches = Object.entries(fresnetDepths).filter(([, known]) => known.join() === units.join());
  return matches.length > 0 ? Math.max(...matches.map(([depth]) => Number(depth))) : undefined;
}

/**
 * The fresnet configuration `symbol` describes. With the checkpoint's `params`, the input
 * size is read from the first fully connected layer's weight (112x112 otherwise).
 */
export function fresnetConfigFromSymbol(symbol: MxnetSymbol, source: string, params?: StateDict): FResNetConfig {
  const reader = new SymbolIndex(symbol, source, 'an InsightFace fresnet');
  const input = inputVersionOf(reader);
  const bottleneck = reader.node('convd') !== undefined;
  const units = reader.stageUnits(4);
  const head = headOf(reader);
  const config: FResNetConfig = {
    units,
    unit: unitVersionOf(reader, input, bottleneck),
    input,
    act: activationOf(reader),
    se: reader.node('stage1_unit1_se_conv1') !== undefined,
    head,
    bottleneck,
  };
  const depth = depthOf(units);
  if (depth !== undefined) config.depth = depth;
  const embeddingSize = embeddingSizeOf(reader, head);
  if (embeddingSize !== undefined) config.embeddingSize = embeddingSize;
  const inputSize = inputSizeOf(params, head, input);
  if (inputSize) config.inputSize = inputSize;
  return config;
}

export interface MxnetCheckpoint {
  model: FResNet;
  /** Names in the file that are not part of the embedding network (fc7_*: the margin loss's class centres). */
  ignored: string[];
}

/** Loads MXNet parameters into a built fresnet (strict, except the training-only fc7_* entries). */
export function loadMxnetParamsInto(model: FResNet, params: StateDict, source: string): string[] {
  const { dict, ignored } = fromMxnetParams(model, params, source);
  model.loadStateDict(dict);
  return ignored;
}

/**
 * Builds the fresnet `prefix-0000.params` holds, its configuration read from
 * `prefix-symbol.json` beside it (`overrides` replace what the symbol says), and loads
 * the weights. The file's tensors are freed; the caller owns the model.
 */
export function loadMxnetCheckpoint(paramsPath: string, overrides: FResNetConfig = {}): MxnetCheckpoint {
  const { symbol, symbolPath, params } = readMxnetCheckpoint(paramsPath, 'fresnet100');
  try {
    const config = { ...fresnetConfigFromSymbol(symbol, symbolPath, params), ...overrides };
    const model = new FResNet({ name: 'fresnet', ...config }, { init: false });
    try {
      return { model, ignored: loadMxnetParamsInto(model, params, paramsPath) };
    } catch (error) {
      model.dispose();
      throw error;
    }
  } finally {
    dispose(params);
  }
}
