// Shared by embed, verify and verify-eval: the embedding network a name and a weights
// file describe, and face images decoded to the raw pixels it takes.
import { EmbeddingModel } from '../models/embedding.js';
import { ImageClassifier } from '../models/classifier.js';
import type { ModelOptions } from '../models/index.js';
import { embeddingNetworkFromRun, trainedWeightsInfo } from '../train/trained-model.js';
import { embedPixels, toEmbedder, type EmbedOptions, type Embedder, type EmbeddingInput } from '../tools/face-embedding.js';
import type { Tensor } from '../torch/tensor.js';
import { checkModelName, isFamilyName, loadModelWithWeights, modelInfo } from './model-loading.js';
import { preprocessImages } from './preprocess-image.js';

/**
 * The embedding network of `name` with `weights`: an embedding model (fresnet*,
 * iresnet*, or the family name fresnet with an MXNet prefix-0000.params whose
 * prefix-symbol.json describes it) with its own preprocessing; a `resnets train --loss`
 * run's weights (the model, input size and normalisation come with them); or a
 * classifier built without a head (--model-options '{"numClasses": 0}': pooled features)
 * with its pretrained config's input size and normalisation.
 */
export function loadEmbedder(name: string, weights: string, modelOptions?: ModelOptions): Embedder {
  checkModelName(name);
  const run = trainedWeightsInfo(weights);
  if (run) {
    if (run.embeddingSize === undefined && !isFamilyName(name) && modelInfo(name).kind !== 'embedding') {
      throw new Error(`${weights} holds a ${name} classifier trained on ${run.classes.length} classes, not an embedding network; train one with 'resnets train ${name} --loss arcface ...'`);
    }
    const { model } = embeddingNetworkFromRun(weights, run, name);
    return toEmbedder(model, name, { inputSize: run.inputShape, normalize: { mean: run.mean, std: run.std } });
  }
  const classifier = !isFamilyName(name) && modelInfo(name).kind === 'classifier';
  if (classifier && modelOptions?.numClasses !== 0) throw notAnEmbeddingModel(name);
  const { model } = loadModelWithWeights(name, weights, undefined, modelOptions);
  if (model instanceof EmbeddingModel) return toEmbedder(model, name);
  if (model instanceof ImageClassifier && model.numClasses === 0) {
    const { inputSize, mean, std } = model.pretrainedConfig;
    return toEmbedder(model, name, { inputSize, normalize: { mean, std } });
  }
  model.dispose();
  throw notAnEmbeddingModel(name);
}

const notAnEmbeddingModel = (name: string) =>
  new Error(`${name} is a classifier, not an embedding model; give an embedding model (fresnet*, iresnet*; see 'resnets list'), a 'resnets train --loss' run's weights, or --model-options '{"numClasses": 0}' for pooled features`);

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

/** Embeddings of `images` (files or encoded bytes), decoded and run `batchSize` at a time: [images x dim] values, row by row. */
export async function embedImages(embedder: Embedder, images: readonly (string | Uint8Array)[], options: EmbedOptions & { batchSize?: number } = {}): Promise<{ values: Float32Array; dim: number }> {
  const batchSize = options.batchSize ?? 32;
  const parts: Float32Array[] = [];
  let dim = 0;
  for (let start = 0; start < images.length; start += batchSize) {
    const pixels = await loadPixels(images.slice(start, start + batchSize), embedder.input);
    try {
      const embeddings = embedPixels(embedder, pixels, options);
      dim = embeddings.size(1);
      parts.push(embeddings.toTypedArray() as Float32Array);
      embeddings.dispose();
    } finally {
      pixels.dispose();
    }
  }
  const values = new Float32Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    values.set(part, offset);
    offset += part.length;
  }
  return { values, dim };
}
