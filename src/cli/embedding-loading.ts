// Shared by embed, verify and verify-eval: the embedding network a name and a weights
// file describe, and face images decoded to the raw pixels it takes.
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { EmbeddingModel } from '../models/embedding.js';
import { ImageClassifier } from '../models/classifier.js';
import { createModelByName, loadCheckpoint, loadMxnetCheckpoint } from '../models/index.js';
import { embeddingNetworkFromRun, trainedWeightsInfo } from '../train/trained-model.js';
import { toEmbedder, type Embedder, type EmbeddingInput } from '../tools/face-embedding.js';
import type { Tensor } from '../torch/tensor.js';
import { dispose } from '../torch/scope.js';
import { modelInfo, readCheckpoint } from './model-loading.js';
import { preprocessImages } from './preprocess-image.js';

const symbolBeside = (params: string) => `${params.replace(/-\d+\.params$/i, '').replace(/\.params$/i, '')}-symbol.json`;

/**
 * The embedding network of `name` with `weights`: an embedding model (fresnet, iresnet;
 * an MXNet prefix-0000.params with prefix-symbol.json beside it builds the fresnet the
 * symbol describes) with its own preprocessing, a `resnets train --loss` run's weights
 * (the model, input size and normalisation come with them), or a classifier built
 * without a head (numClasses 0) with the registry's input size and normalisation.
 */
export function loadEmbedder(name: string, weights: string): Embedder {
  if (!existsSync(weights)) throw new Error(`weights file '${weights}' does not exist`);
  if (extname(weights).toLowerCase() === '.params' && existsSync(symbolBeside(weights))) {
    return toEmbedder(loadMxnetCheckpoint(weights).model, name);
  }
  const info = modelInfo(name);
  const run = trainedWeightsInfo(weights);
  if (run) {
    if (run.embeddingSize === undefined && info.kind !== 'embedding') {
      throw new Error(`${weights} holds a ${name} classifier trained on ${run.classes.length} classes, not an embedding network; train one with 'resnets train ${name} --loss arcface ...'`);
    }
    const { model } = embeddingNetworkFromRun(weights, run, name);
    return toEmbedder(model, name, { inputSize: run.inputShape, normalize: { mean: run.mean, std: run.std } });
  }
  if (info.kind !== 'embedding') {
    throw new Error(`${name} is a classifier, not an embedding model; give an embedding model (fresnet*, iresnet*; see 'resnets list') or the weights of a 'resnets train --loss' run`);
  }
  const model = createModelByName(name, { init: false }) as EmbeddingModel | ImageClassifier;
  const dict = readCheckpoint(weights);
  try {
    loadCheckpoint(model, dict, { source: weights });
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    dispose(dict);
  }
  return toEmbedder(model, name, { inputSize: info.defaultInputSize, normalize: { mean: info.mean, std: info.std } });
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
