// Starting from a checkpoint, as torchvision and timm users fine-tune: read a state dict
// from a file, load it through the library's one checkpoint path with the checkpoint's
// own class count, then give the model a fresh classifier when the new data has another
// (said in one line), and optionally freeze everything but the classifier so only the
// head trains.
import { existsSync, statSync } from 'node:fs';
import * as io from '../io/index.js';
import type { StateDict } from '../io/types.js';
import type { ImageClassifier } from '../models/classifier.js';
import { createClassifierByName, getModelInfo, loadCheckpoint } from '../models/index.js';
import { isWeightsTag } from '../models/pretrained.js';
import { loadPretrainedStateDict } from '../models/weights-cache.js';
import { loadInto } from './trained-model.js';
import { dispose } from '../torch/scope.js';
import { Tensor } from '../torch/tensor.js';

/** Reads a state dict from a .pth/.pt/.safetensors file; a bare tensor file is refused. */
export function readCheckpoint(file: string): StateDict {
  if (!existsSync(file)) throw new Error(`weights file '${file}' does not exist`);
  if (!statSync(file).isFile()) throw new Error(`weights file '${file}' is not a file`);
  const loaded = io.load(file) as unknown;
  if (loaded instanceof Tensor) {
    loaded.dispose();
    throw new Error(`'${file}' holds a single tensor, not a state dict of weights`);
  }
  return loaded as StateDict;
}

/** The state-dict key of the classifier's weight, from the model's registered config ('fc.weight'). */
export function classifierWeightKey(name: string): string {
  return `${getModelInfo(name).classifier}.weight`;
}

/** Number of classes in a checkpoint, read from its classifier weight ([classes, features] or a 1x1 conv's [classes, features, 1, 1]). */
export function checkpointNumClasses(dict: StateDict, key: string, source: string): number {
  const weight = (Object.hasOwn(dict, key) ? dict[key] : undefined) ?? (Object.hasOwn(dict, `module.${key}`) ? dict[`module.${key}`] : undefined);
  if (!weight) throw new Error(`'${source}' has no '${key}' entry to read the number of classes from; give the class count (--num-classes)`);
  if (weight.ndim !== 2 && weight.ndim !== 4) throw new Error(`'${source}': '${key}' has shape [${weight.shape.join(', ')}], expected [classes, features]`);
  return weight.shape[0];
}

/** Runs `build`; if it throws, frees `dict` (read for the model about to be built) first. */
export function buildFreeingOnError<M>(dict: StateDict, build: () => M): M {
  try {
    return build();
  } catch (error) {
    dispose(dict);
    throw error;
  }
}

/**
 * Builds model `name` for a state dict file without run metadata and loads it: the class
 * count comes from the checkpoint's classifier unless given (as `resnets run` and
 * InferenceWorker read it). Frees the file's tensors, and the model when they do not fit.
 */
export function loadPlainCheckpoint(name: string, file: string, numClasses?: number): ImageClassifier {
  const dict = readCheckpoint(file);
  const model = buildFreeingOnError(dict, () =>
    createClassifierByName(name, { numClasses: numClasses ?? checkpointNumClasses(dict, classifierWeightKey(name), file), init: false }),
  );
  return loadInto(model, dict, file);
}

/**
 * Loads `dict` into `model` (built for the new data) strictly, through loadCheckpoint; a
 * checkpoint whose classifier has another class count is loaded whole and the model then
 * gets a fresh classifier (resetClassifier), as torchvision's fine-tuning recipe does.
 * Returns the lines to show the user; `dict` stays the caller's.
 */
export function loadPretrained(model: ImageClassifier, dict: StateDict, source: string): string[] {
  const head = model.pretrainedConfig.classifier;
  const wanted = model.numClasses;
  const classes = wanted > 0 ? checkpointNumClasses(dict, `${head}.weight`, source) : wanted;
  if (classes === wanted) {
    loadCheckpoint(model, dict, { source });
    return [`weights loaded from ${source}`];
  }
  model.resetClassifier(classes);
  loadCheckpoint(model, dict, { source });
  model.resetClassifier(wanted);
  return [`weights loaded from ${source}; classifier '${head}' re-initialised: the checkpoint's has ${classes} classes, this model ${wanted}`];
}

/**
 * Freezes every parameter outside the classifier (requiresGrad false), so an optimizer
 * built afterwards trains the head only, as torchvision's feature-extraction recipe.
 * BatchNorm statistics still follow the data in training mode. Returns the count of
 * frozen parameter elements.
 */
export function freezeAllButClassifier(model: ImageClassifier): number {
  const head = model.pretrainedConfig.classifier;
  if (model.numClasses === 0) throw new Error(`--freeze: ${model.name} has no classifier to train on its own`);
  let frozen = 0;
  for (const [key, parameter] of model.namedParameters()) {
    if (key.startsWith(`${head}.`)) continue;
    parameter.requiresGrad = false;
    frozen += parameter.numel;
  }
  return frozen;
}

/**
 * readCheckpoint + loadPretrained, freeing the file's tensors. `file` may also name one
 * of the model's published checkpoints ('IMAGENET1K_V1'), taken from the weights cache
 * (downloaded into it when missing).
 */
export function loadPretrainedFile(model: ImageClassifier, file: string): string[] {
  const named = isWeightsTag(file) && !existsSync(file);
  const { dict, source } = named ? fromRegistry(model.name, file) : { dict: readCheckpoint(file), source: file };
  try {
    return loadPretrained(model, dict, source);
  } finally {
    dispose(dict);
  }
}

function fromRegistry(model: string, tag: string): { dict: StateDict; source: string } {
  const { weights, dict } = loadPretrainedStateDict(model, tag);
  return { dict, source: `${model} ${tag} (${weights.file})` };
}
