// `resnets convert IN -o OUT`: a checkpoint from one format to another (.pth/.pt/.bin,
// .safetensors, MXNet .params), the format chosen by each file's extension. Plain state
// dicts keep their names. fresnet and MXNet ResNeXt checkpoints also change naming: MXNet's names
// (arg:conv0_weight) become ours (conv0.weight) and back, through the family's key map,
// the configuration coming from --model (and --model-options) or from the
// prefix-symbol.json beside an MXNet input. --to converts between an MXNet ResNeXt and
// torchvision's layout, either way, where the architectures coincide.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import * as io from '../../io/index.js';
import { loadMxnetSymbol, symbolPathFor } from '../../io/mxnet-symbol.js';
import type { StateDict } from '../../io/types.js';
import { fresnetConfigFromSymbol } from '../../models/fresnet-mxnet.js';
import { createModelFromConfigByName, loadCheckpoint, loadTorchvisionIntoMxnetResNeXt, MxnetResNeXt, mxnetResNeXtConfigFromSymbol, saveMxnetResNeXtCheckpoint, saveMxnetResNeXtSymbol, mxnetResNeXtToTorchvision } from '../../models/index.js';
import { imagenetStats } from '../../data/normalize.js';
import type { Module } from '../../nn/module.js';
import { fromMxnetParams, looksLikeMxnetParams, toMxnetParams } from '../../models/mxnet-names.js';
import { dispose } from '../../torch/scope.js';
import { readCheckpoint } from '../../train/pretrained.js';
import { withDefaultDevice } from '../../torch/creation.js';
import { buildModel, checkModelName, isFamilyName, modelInfo } from '../model-loading.js';
import { modelOptionsHelp, parseModelOptions } from '../options.js';

interface ConvertOptions {
  output: string;
  model?: string;
  /** A torchvision-layout model to rename an MXNet ResNeXt's weights for, or an MXNet ResNeXt to fill from a torchvision checkpoint. */
  to?: string;
  modelOptions?: Record<string, unknown>;
  /** With --to an MXNet ResNeXt: bn_data applies ImageNet's normalisation to 0..255 pixels. */
  rawPixels?: boolean;
}

const isParams = (path: string) => /\.params$/i.test(path);

/** Whether `name` builds symbol_resnext.py's MXNet ResNeXt (the resnext family). */
const isMxnetResNeXt = (name: string) => (isFamilyName(name) ? name === 'resnext' : modelInfo(name).architecture === 'resnext');

/** The families built with MXNet's names, whose key map renames checkpoints to and from MXNet. */
const mxnetFamilies = ['fresnet', 'resnext'];

/** The model whose key map converts `dict`: from --model, else from the symbol beside an MXNet input. */
function mxnetModelFor(input: string, dict: StateDict, options: ConvertOptions): Module<never, unknown> | undefined {
  if (options.model) {
    const model = buildModel(options.model, { init: false, modelOptions: options.modelOptions }) as unknown as Module<never, unknown> & { config: { family: string } };
    if (mxnetFamilies.includes(model.config.family)) return model;
    model.dispose();
    return undefined;
  }
  const path = symbolPathFor(input);
  if (!isParams(input) || !existsSync(path)) return undefined;
  const symbol = loadMxnetSymbol(path);
  // symbol_resnext.py's graphs have an input BatchNorm and `_sc_bn` projections; fresnet's do not.
  const resnext = symbol.nodes.some((node) => node.name === 'stage1_unit1_sc_bn');
  const config = resnext ? { ...mxnetResNeXtConfigFromSymbol(symbol, path), family: 'resnext' } : { ...fresnetConfigFromSymbol(symbol, path, dict), family: 'fresnet' };
  return createModelFromConfigByName({ ...config, ...options.modelOptions }, { init: false }) as unknown as Module<never, unknown>;
}

/** What to write: `dict` renamed for the output's naming where a fresnet says how. */
function converted(input: string, dict: StateDict, options: ConvertOptions, notes: string[]): StateDict {
  const mxnetIn = looksLikeMxnetParams(dict);
  const mxnetOut = isParams(options.output);
  if (mxnetIn === mxnetOut && !(mxnetOut && options.model)) return dict;
  const model = mxnetModelFor(input, dict, options);
  if (!model) {
    if (mxnetIn) throw new Error(`${input} has MXNet names (arg:/aux:); to rename them for PyTorch, give --model (fresnet50, mxnet_resnext50_32x4d, or a family with --model-options) or put ${symbolPathFor(input)} beside it`);
    // MXNet loads only arg:/aux: names, which only the fresnet and ResNeXt key maps give.
    if (options.model) throw new Error(`--model ${options.model}: .params output needs a model with an MXNet key map (${mxnetFamilies.join(', ')}: fresnet50, mxnet_resnext50_32x4d, or a family with --model-options)`);
    throw new Error(`${options.output}: to write MXNet .params, give --model (fresnet50, mxnet_resnext50_32x4d, or a family with --model-options): its key map gives the arg:/aux: names MXNet loads`);
  }
  // Copies: the model (whose tensors the renamed dict borrows) is freed before writing.
  const copies = (named: StateDict) => Object.fromEntries(Object.entries(named).map(([key, tensor]) => [key, tensor.clone()]));
  try {
    if (options.to && (model as unknown as { config: { family: string } }).config.family !== 'resnext') {
      throw new Error(`--to ${options.to} renames an MXNet ResNeXt's weights (mxnet_resnext50_32x4d); this checkpoint is a ${(model as unknown as { config: { family: string } }).config.family}`);
    }
    if (mxnetIn) {
      const { dict: ours, ignored } = fromMxnetParams(model, dict, input);
      if (ignored.length > 0) notes.push(`left out ${ignored.join(', ')} (the margin loss's class centres, not part of the embedding network)`);
      return options.to ? inTorchvisionLayout(ours, options.to, notes) : copies(ours);
    }
    loadCheckpoint(model as Parameters<typeof loadCheckpoint>[0], dict, { source: input });
    // MXNet ResNeXt checkpoints are read with their symbol (run/summary/convert configure from it).
    if (model instanceof MxnetResNeXt) notes.push(`wrote ${saveMxnetResNeXtSymbol(model, symbolPathFor(options.output))}`);
    return copies(toMxnetParams(model));
  } finally {
    model.dispose();
  }
}

/** An MXNet ResNeXt's weights (our keys) as new tensors in torchvision's layout for `name`, saying what cannot be carried over. */
function inTorchvisionLayout(dict: StateDict, name: string, notes: string[]): StateDict {
  // On the meta device: only the names and shapes are needed.
  const target = withDefaultDevice('meta', () => buildModel(name, { init: false, numClasses: dict['fc1.weight']?.shape[0] }));
  const shapes = target.stateDict();
  try {
    const converted = mxnetResNeXtToTorchvision(dict, shapes);
    notes.push(...converted.notes);
    return converted.dict;
  } finally {
    dispose(shapes);
    target.dispose();
  }
}

/**
 * A torchvision-layout checkpoint as the MXNet ResNeXt `options.to`, written as
 * prefix-symbol.json + prefix-0000.params; what was filled in goes to `notes`.
 */
function toMxnetResNeXt(input: string, dict: StateDict, options: ConvertOptions, notes: string[]): { symbolPath: string; paramsPath: string } {
  const { output, to } = options;
  if (/\.(pth|pt|bin|safetensors|npy)$/i.test(output)) throw new Error(`-o ${output}: --to ${to} writes MXNet's prefix-symbol.json + prefix-0000.params: give the prefix or the .params path`);
  const numClasses = dict['fc.weight']?.shape[0];
  const model = buildModel(to!, { init: false, numClasses, modelOptions: options.modelOptions }) as unknown as MxnetResNeXt;
  try {
    const normalization = options.rawPixels ? { mean: imagenetStats.mean.map((m) => m * 255), std: imagenetStats.std.map((s) => s * 255) } : undefined;
    notes.push(...loadTorchvisionIntoMxnetResNeXt(model, dict, { inputNormalization: normalization }, input).notes);
    if (!normalization) notes.push("resnets predict feeds the resnext family 0..255 pixels, as MXNet's model zoo nets take them: convert with --raw-pixels for a net to use there");
    return saveMxnetResNeXtCheckpoint(model, output);
  } finally {
    model.dispose();
  }
}

export function register(program: Command): void {
  program
    .command('convert')
    .description("Convert a checkpoint between .pth/.pt, .safetensors and MXNet .params (fresnet and MXNet ResNeXt names mapped both ways), or an MXNet ResNeXt to and from torchvision's layout (--to)")
    .argument('<input>', 'checkpoint to read (.pth/.pt/.bin, .safetensors, .params)')
    .requiredOption('-o, --output <file>', 'checkpoint to write; its extension picks the format')
    .option('--model <name>', 'the model the weights belong to (fresnet* maps names to and from MXNet); default: read from prefix-symbol.json beside an MXNet input')
    .option('--model-options <json>', `${modelOptionsHelp}; with --to an MXNet ResNeXt they configure that model`, parseModelOptions)
    .option('--to <name>', "convert between an MXNet ResNeXt and torchvision's layout where the architectures coincide, saying what cannot be carried over or is filled in: with an MXNet input, the torchvision model to rename for (resnext50_32x4d); with a torchvision checkpoint, the MXNet ResNeXt to write (mxnet_resnext50_32x4d; -o takes the prefix)")
    .option('--raw-pixels', "with --to an MXNet ResNeXt: bn_data applies ImageNet's mean and std to 0..255 pixels, as MXNet's model zoo nets take them (default: bn_data is the identity)")
    .action((input: string, options: ConvertOptions) => {
      if (options.model) checkModelName(options.model);
      if (options.to) checkModelName(options.to);
      const toMxnet = options.to !== undefined && isMxnetResNeXt(options.to);
      if (toMxnet && options.model) throw new Error(`--model ${options.model}: not used with --to ${options.to}, which reads a torchvision-layout checkpoint; --model-options configure the --to model`);
      if (options.rawPixels && !toMxnet) throw new Error('--raw-pixels fills in the input BatchNorm of an MXNet ResNeXt: give --to mxnet_resnext50_32x4d (or another of the resnext family)');
      if (options.to && !toMxnet && isParams(options.output)) throw new Error(`--to ${options.to} renames for a torchvision layout: write a .pth or .safetensors file`);
      const dict = readCheckpoint(input);
      const notes: string[] = [];
      if (options.to && looksLikeMxnetParams(dict) === toMxnet) {
        dispose(dict);
        throw new Error(toMxnet
          ? `--to ${options.to} fills an MXNet ResNeXt from a torchvision-layout checkpoint; ${input} has MXNet names (arg:/aux:)`
          : `--to ${options.to} renames an MXNet ResNeXt's .params (arg:/aux: names) for torchvision's layout; ${input} has none (to write an MXNet ResNeXt, give --to mxnet_resnext50_32x4d)`);
      }
      if (toMxnet) {
        try {
          const { symbolPath, paramsPath } = toMxnetResNeXt(input, dict, options, notes);
          console.log(`wrote ${symbolPath} and ${paramsPath}`);
        } finally {
          dispose(dict);
        }
        for (const note of notes) console.log(`note: ${note}`);
        return;
      }
      let out: StateDict | undefined;
      try {
        out = converted(input, dict, options, notes);
        io.save(out, options.output);
      } finally {
        if (out && out !== dict) dispose(Object.values(out).filter((tensor) => !Object.values(dict).includes(tensor)));
        dispose(dict);
      }
      console.log(`wrote ${options.output}: ${Object.keys(out).length} tensors`);
      for (const note of notes) console.log(`note: ${note}`);
    });
}
