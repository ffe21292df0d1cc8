// Shared by embed, verify and verify-eval: the embedding network a name and a weights
// file describe, and face images decoded to the raw pixels it takes.
import { EmbeddingModel } from '../models/embedding.js';
import { preprocessImages } from './preprocess-image.js';
import { ImageClassifier } from '../models/classifier.js';
import { modelFromRun, trainedWeightsInfo } from '../train/trained-model.js';
import { toEmbedder, type Embedder, type EmbeddingInput } from '../tools/face-embedding.js';
import type { Tensor } from '../torch/tensor.js';
import { buildModel, loadWeights, modelInfo, readCheckpoint } from './model-loading.js';
import { dispose } from '../torch/scope.js';

/**
 * The embedding network of `name` with `weights`: an embedding model (fresnet, iresnet)
 * with its own preprocessing, a `resnets train --loss` run's weights (the model, input
 * size and normalisation come with them), or a classifier built without a head
 * (numClasses 0) with the registry's input size and normalisation.
 */
export function loadEmbedder(name: string, weights: string): Embedder {
  const info = modelInfo(name);
  const run = trainedWeightsInfo(weights);
  if (run) {
    const { model } = modelFromRun(weights, run, name);
    if (!(model as unknown instanceof EmbeddingModel) && run.embeddingSize === undefined) {
      model.dispose();
      throw new Error(`${weights} holds a ${name} classifier trained on ${run.classes.length} classes, not an embedding network; train one with 'resnets train ${name} --loss arcface ...'`);
    }
    return toEmbedder(model, name, { inputSize: run.inputShape, normalize: { mean: run.mean, std: run.std } });
  }
  const model = buildModel(name, { init: false });
  const isEmbedding = (model as unknown) instanceof EmbeddingModel || (model instanceof ImageClassifier && model.numClasses === 0);
  if (!isEmbedding) {
    model.dispose();
    throw new Error(`${name} is a classifier, not an embedding model; give an embedding model (fresnet, iresnet), a classifier built with numClasses 0, or the weights of a 'resnets train --loss' run`);
  }
  const dict = readCheckpoint(weights);
  try {
    loadWeights(model, dict, weights, name);
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    dispose(dict);
  }
  const input: EmbeddingInput = { inputSize: info.defaultInputSize, normalize: { mean: info.mean, std: info.std } };
  return toEmbedder(model, name, input);
}

/**
 * Decodes images (files or encoded bytes) to raw pixels [N, C, H, W] (0..255, float32)
 * of the network's input size: an image of another size is resized by its short side
 * and centre-cropped (InsightFace's evaluation resizes the short side only, so give it
 * aligned crops of the right size, as its alignment writes them).
 */
export async function loadPixels(images: readonly (string | Uint8Array)[], input: EmbeddingInput): Promise<Tensor> {
  const [channels, height, width] = input.inputSize;
  if (height !== width) throw new Error(`input size ${height}x${width}: only square inputs are supported`);
  // mean 0 and std 1/255 on the 0..1 scale leave the pixel values as they are.
  return preprocessImages(images, { size: height, cropPct: 1, channels, mean: [0], std: [1 / 255] });
}
