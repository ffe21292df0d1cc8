// A model rebuilt from a training run's weights file: the file's metadata names the
// model, its options (classes, input channels), the class names and the input
// normalisation, so nothing else is needed to run it.
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { loadSafetensors } from '../io/safetensors.js';
import type { ImageClassifier } from '../models/classifier.js';
import { createClassifierByName, createModelByName, loadCheckpoint, type FeatureListNet } from '../models/index.js';
import type { EmbeddingModel } from '../models/embedding.js';
import type { StateDict } from '../io/types.js';
import { dispose } from '../torch/scope.js';
import { readWeightsInfo, type WeightsInfo } from './checkpoint.js';

export interface TrainedModel {
  model: ImageClassifier;
  info: WeightsInfo;
}

/** The run metadata of `file`, or undefined for weights that were not written by a training run. */
export function trainedWeightsInfo(file: string): WeightsInfo | undefined {
  if (!existsSync(file)) throw new Error(`weights file '${file}' does not exist`);
  return extname(file).toLowerCase() === '.safetensors' ? readWeightsInfo(file) : undefined;
}

/**
 * Builds the model a run's weights file describes and loads the weights; undefined when
 * the file has no run metadata. With `expectedModel`, a file of another model is an error.
 */
export function loadTrainedModel(file: string, expectedModel?: string): TrainedModel | undefined {
  const info = trainedWeightsInfo(file);
  return info ? modelFromRun(file, info, expectedModel) : undefined;
}

/** Builds the model `info` (read from `file`'s metadata) describes and loads `file` into it. */
export function modelFromRun(file: string, info: WeightsInfo, expectedModel?: string): TrainedModel {
  if (expectedModel !== undefined && info.model !== expectedModel) throw new Error(`${file} holds ${info.model} weights, not ${expectedModel}`);
  const model = createClassifierByName(info.model, { ...info.modelOptions, init: false });
  return { model: loadInto(model, loadSafetensors(file), file), info };
}

/** Throws for the weights of an embedding run (`resnets train --loss`): they make embeddings, not class scores. */
export function refuseEmbeddingRun(file: string, info: WeightsInfo | undefined): void {
  if (info?.embeddingSize === undefined) return;
  throw new Error(`${file} holds an embedding network (${info.embeddingSize}-d, trained with --loss ${info.loss ?? 'a margin loss'}), which has no classes to score; use 'resnets embed', 'verify' or 'verify-eval'`);
}

/**
 * The network of an embedding run (`resnets train --loss`): an embedding model, or a
 * classifier whose final layer outputs the embedding.
 */
export function embeddingNetworkFromRun(file: string, info: WeightsInfo, expectedModel?: string): { model: ImageClassifier | EmbeddingModel; info: WeightsInfo } {
  if (expectedModel !== undefined && info.model !== expectedModel) throw new Error(`${file} holds ${info.model} weights, not ${expectedModel}`);
  const model = createModelByName(info.model, { ...info.modelOptions, init: false }) as ImageClassifier | EmbeddingModel;
  return { model: loadInto(model, loadSafetensors(file), file), info };
}

/**
 * Loads `dict` into `model` (strictly, through the library's one checkpoint path) and
 * frees `dict`; when it does not fit, frees `model` too and throws.
 */
export function loadInto<M extends ImageClassifier | FeatureListNet | EmbeddingModel>(model: M, dict: StateDict, source?: string): M {
  try {
    loadCheckpoint(model, dict, { source });
    return model;
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    dispose(dict);
  }
}
