// Shared by the commands that build a model from its name and load a checkpoint into it.
import { existsSync } from 'node:fs';
import type { StateDict } from '../io/types.js';
import { symbolPathFor } from '../io/mxnet-symbol.js';
import {
  createModelByName,
  createPretrainedModel,
  createModelFromConfigByName,
  findModelInfo,
  getModelInfo,
  getPretrained,
  isWeightsTag,
  listFamilies,
  loadCheckpoint,
  loadMxnetCheckpoint,
  loadMxnetResNeXtCheckpoint,
  type FeatureListNet,
  type FResNetConfig,
  type MxnetResNeXtConfig,
  type ImageClassifier,
  type ModelInfo,
  type ModelOptions,
  type PretrainedWeights,
} from '../models/index.js';
import type { WeightsInfo } from '../train/checkpoint.js';
import { buildFreeingOnError, checkpointNumClasses, classifierWeightKey, readCheckpoint } from '../train/pretrained.js';
import { loadInto, modelFromRun, refuseEmbeddingRun, trainedWeightsInfo } from '../train/trained-model.js';
import type { Module } from '../nn/module.js';
import { withDefaultDevice } from '../torch/creation.js';
import type { Tensor } from '../torch/tensor.js';
import type { Command } from 'commander';
import { parsePositiveInt, parseShape } from './options.js';
import type { PreprocessOptions } from './preprocess-image.js';

export type ImageModel = Module<Tensor, Tensor>;

/** Whether `name` is a family ('fresnet', 'resnet') rather than a registered model: --model-options then give its configuration. */
export function isFamilyName(name: string): boolean {
  return findModelInfo(name) === undefined && listFamilies().includes(name);
}

/** Throws unless `name` is a registered model or a family. */
export function checkModelName(name: string): void {
  if (!isFamilyName(name)) modelInfo(name);
}

/** The registry's record for `name`; an unknown name suggests close ones. */
export function modelInfo(name: string): ModelInfo {
  try {
    return getModelInfo(name);
  } catch (error) {
    const message = (error as Error).message.replace(/\s*\(listModels\(\)[^)]*\)/, '');
    throw new Error(`${message} (see 'resnets list')`);
  }
}

export interface BuildOptions {
  numClasses?: number;
  /** Input channels (default: the model's, 3 for RGB). */
  inChans?: number;
  /** false skips weight initialisation: for a model about to receive a checkpoint. */
  init?: boolean;
  /** Family options (--model-options); the flags above win over the same keys here. */
  modelOptions?: ModelOptions;
}

/**
 * Builds a registered model, or with a family name the configuration `modelOptions`
 * describe. Embedding models (fresnet, iresnet) take no numClasses / inChans.
 */
export function buildModel(name: string, options: BuildOptions = {}): ImageModel {
  const family = isFamilyName(name);
  const embedding = family ? false : modelInfo(name).kind === 'embedding';
  const flags: ModelOptions = {};
  if (!embedding && options.numClasses !== undefined) flags.numClasses = options.numClasses;
  if (!embedding && options.inChans !== undefined) flags.inChans = options.inChans;
  const settings = { ...options.modelOptions, ...flags };
  const init = options.init ?? true;
  const model = family ? buildFamily(name, settings, init) : createModelByName(name, { ...settings, init });
  return model as unknown as ImageModel;
}

/** A family's configuration from `settings`; a bare family name that needs options says so. */
function buildFamily(name: string, settings: ModelOptions, init: boolean) {
  try {
    return createModelFromConfigByName({ ...settings, family: name }, { init });
  } catch (error) {
    if (Object.keys(settings).length > 0) throw error;
    throw new Error(`${name} is a family name: give --model-options with its required options (${(error as Error).message}), or a model of it (see 'resnets list --family ${name}')`);
  }
}

/** Loads `dict` into `model` through the library's one checkpoint path; a mismatch is one line naming the first few keys. */
export function loadWeights(model: ImageModel | FeatureListNet, dict: StateDict, file: string): void {
  loadCheckpoint(model as Parameters<typeof loadCheckpoint>[0], dict, { source: file });
}

/**
 * A features-only model of `name` with the full model's checkpoint `file` loaded (its
 * classifier keys ignored); a training run's file also brings its model options (inChans).
 */
export function loadBackboneWithWeights(name: string, file: string, outIndices?: number[]): FeatureListNet {
  modelInfo(name);
  const run = trainedWeightsInfo(file);
  if (run && run.model !== name) throw new Error(`${file} holds ${run.model} weights, not ${name}`);
  const { numClasses: _ignored, ...runOptions } = run?.modelOptions ?? {};
  const dict = readCheckpoint(file);
  return loadInto(buildFreeingOnError(dict, () => createModelByName(name, { ...runOptions, init: false, featuresOnly: true, outIndices }) as FeatureListNet), dict, file);
}

/** The families whose MXNet checkpoints carry their configuration in prefix-symbol.json. */
const symbolCheckpointLoaders: Record<string, (file: string, overrides: ModelOptions) => ImageModel> = {
  fresnet: (file, overrides) => loadMxnetCheckpoint(file, overrides as FResNetConfig).model as unknown as ImageModel,
  resnext: (file, overrides) => loadMxnetResNeXtCheckpoint(file, overrides as MxnetResNeXtConfig) as unknown as ImageModel,
};

/**
 * Builds `name` and loads `file` into it. A training run's weights file names its model
 * and options (classes, input channels) and comes back as `run`; otherwise the class
 * count comes from the checkpoint unless given.
 */
export function loadModelWithWeights(
  name: string,
  file: string,
  numClasses?: number,
  modelOptions?: ModelOptions,
): { model: ImageModel; run?: WeightsInfo; pretrained?: PretrainedWeights } {
  checkModelName(name);
  if (isWeightsTag(file) && !existsSync(file)) {
    // A weights name ('IMAGENET1K_V2'): the registry's checkpoint, from the cache or downloaded.
    const pretrained = getPretrained(name, file);
    const options = { ...modelOptions, ...(numClasses === undefined ? {} : { numClasses }) };
    return { model: createPretrainedModel(name, file, options) as unknown as ImageModel, pretrained };
  }
  // A family name with an MXNet checkpoint: the configuration is the one its prefix-symbol.json describes.
  const fromSymbol = Object.hasOwn(symbolCheckpointLoaders, name) ? symbolCheckpointLoaders[name] : undefined;
  if (fromSymbol && isFamilyName(name) && /\.params$/i.test(file) && (existsSync(symbolPathFor(file)) || !modelOptions)) {
    if (!existsSync(file)) throw new Error(`weights file '${file}' does not exist`);
    return { model: fromSymbol(file, modelOptions ?? {}) };
  }
  const run = trainedWeightsInfo(file);
  if (!run) return { model: loadPlainWeights(name, file, numClasses, modelOptions) };
  if (numClasses !== undefined && run.classes.length > 0 && numClasses !== run.classes.length) {
    throw new Error(`'${file}' was trained on ${run.classes.length} classes, not --num-classes ${numClasses}`);
  }
  return { model: modelFromRun(file, run, name).model as unknown as ImageModel, run };
}

/**
 * Builds `name` for a state dict without run metadata; a registered classifier's class
 * count comes from the checkpoint unless given (embedding models and families have none to read).
 */
function loadPlainWeights(name: string, file: string, numClasses?: number, modelOptions?: ModelOptions): ImageModel {
  const dict = readCheckpoint(file);
  const classifier = !isFamilyName(name) && modelInfo(name).kind === 'classifier' && modelOptions?.numClasses === undefined;
  const model = buildFreeingOnError(dict, () =>
    buildModel(name, { numClasses: numClasses ?? (classifier ? checkpointNumClasses(dict, classifierWeightKey(name), file) : undefined), init: false, modelOptions }),
  );
  return loadInto(model as unknown as ImageClassifier, dict, file) as unknown as ImageModel;
}

/** Parameters of `name` with its default head, counted on an instance with no storage ('meta'). */
export function modelParameterCount(name: string): number {
  const model = withDefaultDevice('meta', () => buildModel(name, { init: false }));
  try {
    return model.countParameters();
  } finally {
    model.dispose();
  }
}

/**
 * The model a tool reads (plot, export, bench): with `weights`, loaded from that file;
 * without, freshly initialised, with `inChans` input channels.
 */
export function modelForTool(name: string, options: { weights?: string; numClasses?: number; inChans?: number }): ImageModel {
  if (options.weights !== undefined) return loadModelWithWeights(name, options.weights, options.numClasses).model;
  return buildModel(name, { numClasses: options.numClasses, inChans: options.inChans });
}

/** --weights, --num-classes and --input, as plot and export take them to build the model they trace. */
export function addToolModelOptions(command: Command, weightsHelp: string): Command {
  return command
    .option('--weights <file>', weightsHelp)
    .option('--num-classes <n>', 'classifier size (default: from the weights, else the model default)', parsePositiveInt)
    .option('--input <shape>', "input shape traced, e.g. 1x3x224x224 (default: 1 x the model's input size)", parseShape);
}

/** The shape a tool traces: `given`, or one image of the model's input size; always 4 sizes. */
export function toolInputShape(name: string, given: number[] | undefined, option = '--input'): number[] {
  const shape = given ?? [1, ...modelInfo(name).defaultInputSize];
  if (shape.length !== 4) throw new Error(`${option} must have 4 sizes (batch x channels x height x width), got ${shape.join('x')}`);
  return shape;
}

/**
 * The model, its preprocessing and its class names. A training run's weights file says
 * all three (input shape, normalisation, crop and classes); other weights get the
 * registry's input size, mean and std, and class indices unless --labels names them.
 */
export function loadForPrediction(
  name: string,
  weights: string,
  options: { numClasses?: number; size?: number; cropPct?: number; modelOptions?: ModelOptions; embeddings?: boolean } = {},
): { model: ImageModel; preprocess: PreprocessOptions; classNames?: string[] } {
  const info = modelInfo(name);
  if (!options.embeddings) {
    if (info.kind === 'embedding') throw new Error(`${name} is an embedding model: it gives embeddings, not classes (use resnets embed or resnets run)`);
    if (!isWeightsTag(weights) || existsSync(weights)) refuseEmbeddingRun(weights, trainedWeightsInfo(weights));
  }
  const { model, run, pretrained } = loadModelWithWeights(name, weights, options.numClasses, options.modelOptions);
  if (pretrained) {
    // The checkpoint's own evaluation preset (IMAGENET1K_V2 resizes to 232, crops 224).
    const { cropSize, resizeSize, mean, std } = pretrained.transforms;
    const size = options.size ?? cropSize;
    const preprocess = { size, cropPct: options.cropPct ?? cropSize / resizeSize, channels: 3, mean, std };
    return { model, preprocess, classNames: [...pretrained.classes] };
  }
  if (run) {
    const [channels, height] = run.inputShape;
    const preprocess = { size: options.size ?? height, cropPct: options.cropPct ?? run.cropPct, channels, mean: run.mean, std: run.std };
    return { model, preprocess, classNames: run.classes.length > 0 ? run.classes : undefined };
  }
  const [channels, height] = info.defaultInputSize;
  const preprocess = { size: options.size ?? height, cropPct: options.cropPct ?? info.cropPct ?? 0.875, channels, mean: info.mean, std: info.std };
  return { model, preprocess };
}
