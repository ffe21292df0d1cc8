// Shared by the commands that build a model from its name and load a checkpoint into it.
import type { StateDict } from '../io/types.js';
import { createClassifierByName, createModelByName, getModelInfo, loadCheckpoint, type FeatureListNet, type ModelInfo, type ModelOptions } from '../models/index.js';
import type { WeightsInfo } from '../train/checkpoint.js';
import { buildFreeingOnError, loadPlainCheckpoint, readCheckpoint } from '../train/pretrained.js';
import { loadInto, modelFromRun, trainedWeightsInfo } from '../train/trained-model.js';
import type { Module } from '../nn/module.js';
import { withDefaultDevice } from '../torch/creation.js';
import type { Tensor } from '../torch/tensor.js';

export type ImageModel = Module<Tensor, Tensor>;

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
}

function modelOptionsFrom(options: BuildOptions): ModelOptions {
  const modelOptions: ModelOptions = {};
  if (options.numClasses !== undefined) modelOptions.numClasses = options.numClasses;
  if (options.inChans !== undefined) modelOptions.inChans = options.inChans;
  if (options.init === false) modelOptions.init = false;
  return modelOptions;
}

export function buildModel(name: string, options: BuildOptions = {}): ImageModel {
  modelInfo(name);
  return createClassifierByName(name, modelOptionsFrom(options)) as unknown as ImageModel;
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

/**
 * Builds `name` and loads `file` into it. A training run's weights file names its model
 * and options (classes, input channels) and comes back as `run`; otherwise the class
 * count comes from the checkpoint unless given.
 */
export function loadModelWithWeights(name: string, file: string, numClasses?: number): { model: ImageModel; run?: WeightsInfo } {
  const run = trainedWeightsInfo(file);
  if (!run) return { model: loadPlainWeights(name, file, numClasses) };
  if (numClasses !== undefined && run.classes.length > 0 && numClasses !== run.classes.length) {
    throw new Error(`'${file}' was trained on ${run.classes.length} classes, not --num-classes ${numClasses}`);
  }
  return { model: modelFromRun(file, run, name).model as unknown as ImageModel, run };
}

/** Builds `name` for a state dict without run metadata; the class count comes from the checkpoint unless given. */
function loadPlainWeights(name: string, file: string, numClasses?: number): ImageModel {
  modelInfo(name);
  return loadPlainCheckpoint(name, file, numClasses) as unknown as ImageModel;
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
