// Shared by the commands that build a model from its name and load a checkpoint into it.
import type { StateDict } from '../io/types.js';
import { createModel, getModelInfo, type ModelInfo, type ModelOptions } from '../models/index.js';
import type { WeightsInfo } from '../train/checkpoint.js';
import { checkpointClassCount, readCheckpoint } from '../train/pretrained.js';
import { modelFromRun, trainedWeightsInfo } from '../train/trained-model.js';
import type { Module } from '../nn/module.js';
import { withDefaultDevice } from '../torch/creation.js';
import { dispose } from '../torch/scope.js';
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

export function buildModel(name: string, options: BuildOptions = {}): ImageModel {
  modelInfo(name);
  const modelOptions: ModelOptions = {};
  if (options.numClasses !== undefined) modelOptions.numClasses = options.numClasses;
  if (options.inChans !== undefined) modelOptions.inChans = options.inChans;
  if (options.init === false) modelOptions.init = false;
  return createModel(name, modelOptions) as unknown as ImageModel;
}

const listSome = (keys: string[]): string => (keys.length <= 3 ? keys.join(', ') : `${keys.slice(0, 3).join(', ')} and ${keys.length - 3} more`);

/** The shape of every state-dict entry of `model`, by key. */
function shapesOf(model: ImageModel): Record<string, number[]> {
  const dict = model.stateDict();
  const shapes = Object.fromEntries(Object.entries(dict).map(([key, tensor]) => [key, tensor.shape]));
  dispose(dict);
  return shapes;
}

/** Loads `dict` into `model`, strictly; a mismatch is one line naming the first few keys. */
export function loadWeights(model: ImageModel, dict: StateDict, file: string, modelName: string): void {
  const own = shapesOf(model);
  const missing = Object.keys(own).filter((key) => !(key in dict));
  const unexpected = Object.keys(dict).filter((key) => !(key in own));
  const mismatched = Object.keys(own)
    .filter((key) => key in dict && dict[key].shape.join('x') !== own[key].join('x'))
    .map((key) => `${key} [${dict[key].shape.join(', ')}] vs [${own[key].join(', ')}]`);
  const problems: string[] = [];
  if (mismatched.length > 0) problems.push(`shape mismatches (checkpoint vs model): ${listSome(mismatched)}`);
  if (missing.length > 0) problems.push(`missing keys: ${listSome(missing)}`);
  if (unexpected.length > 0) problems.push(`unexpected keys: ${listSome(unexpected)}`);
  if (problems.length > 0) throw new Error(`'${file}' does not fit ${modelName}: ${problems.join('; ')}`);
  model.loadStateDict(dict);
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
  const dict = readCheckpoint(file);
  try {
    modelInfo(name);
    const model = buildModel(name, { numClasses: numClasses ?? checkpointClassCount(name, dict, file), init: false });
    try {
      loadWeights(model, dict, file, name);
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  } finally {
    for (const tensor of Object.values(dict)) tensor.dispose();
  }
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
