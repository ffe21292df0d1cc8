// Embeddings for verification: any network whose output is an embedding, fed raw 0..255
// pixels, optionally with the mirrored image's embedding added (InsightFace's
// evaluation sums the embeddings of the image and of its horizontal flip before
// normalising), and pairs compared as verification.py does.
import { EmbeddingModel, type EmbeddingPreprocessing } from '../models/embedding.js';
import type { Module } from '../nn/module.js';
import { tensor } from '../torch/creation.js';
import { normalize } from '../torch/functional.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { evaluateVerification, squaredDistances, type VerificationOptions, type VerificationResult } from '../train/verification.js';

/** How raw pixels reach the network: its input size, and (pixel / 255 - mean) / std outside it, or none. */
export type EmbeddingInput = Pick<EmbeddingPreprocessing, 'inputSize' | 'normalize'>;

/** A network that maps raw pixel images (0..255, [N, C, H, W]) to embeddings [N, D]. */
export interface Embedder {
  readonly name: string;
  readonly input: EmbeddingInput;
  embed(pixels: Tensor): Tensor;
  dispose(): void;
}

/** An EmbeddingModel (fresnet, iresnet) as it is: it knows its own preprocessing. */
export function embeddingModelEmbedder(model: EmbeddingModel): Embedder {
  return { name: model.name, input: model.preprocessing, embed: (pixels) => model.embed(pixels), dispose: () => model.dispose() };
}

/**
 * Any other network whose forward output is the embedding (a classifier built with
 * numClasses 0, or with numClasses = embedding size by `resnets train --loss`), with the
 * normalisation it was trained with; run in eval mode without autograd.
 */
export function moduleEmbedder(model: Module, name: string, input: EmbeddingInput): Embedder {
  return {
    name,
    input,
    embed(pixels: Tensor): Tensor {
      const training = model.training;
      model.eval();
      try {
        return noGrad(() =>
          tidy(() => {
            const shape = [1, -1, 1, 1];
            const x = input.normalize
              ? pixels.div(255).sub(tensor(input.normalize.mean, { dtype: pixels.dtype }).reshape(shape)).div(tensor(input.normalize.std, { dtype: pixels.dtype }).reshape(shape))
              : pixels;
            const out = model.call(x);
            if (out.ndim !== 2) throw new Error(`${name} returned shape [${out.shape.join(', ')}], not embeddings [N, D]`);
            return out;
          }),
        );
      } finally {
        model.train(training);
      }
    },
    dispose: () => model.dispose(),
  };
}

export function toEmbedder(model: Module, name: string, input?: EmbeddingInput): Embedder {
  if (model instanceof EmbeddingModel) return embeddingModelEmbedder(model);
  if (!input) throw new Error(`${name} is not an embedding model and no preprocessing was given for it`);
  return moduleEmbedder(model, name, input);
}

export interface EmbedOptions {
  /** Add the embedding of each image's horizontal mirror (InsightFace's evaluation does). */
  flip?: boolean;
  /** L2-normalise each embedding (default true). */
  normalize?: boolean;
}

/** Embeddings of one batch of raw pixels: [N, D] float32. */
export function embedPixels(embedder: Embedder, pixels: Tensor, options: EmbedOptions = {}): Tensor {
  return tidy(() => {
    let embeddings = embedder.embed(pixels);
    if (options.flip) embeddings = embeddings.add(embedder.embed(pixels.flip([3])));
    embeddings = embeddings.float();
    return options.normalize === false ? embeddings : normalize(embeddings, 1);
  });
}

/** Rows 2i and 2i + 1 of L2-normalised embeddings [2P, D] are pair i: the LFW protocol over their squared distances. */
export function verifyEmbeddingPairs(embeddings: Float32Array, dim: number, same: readonly boolean[], options: VerificationOptions = {}): { result: VerificationResult; distances: Float64Array } {
  const pairs = same.length;
  if (embeddings.length !== 2 * pairs * dim) throw new Error(`${pairs} pairs need ${2 * pairs} embeddings of ${dim}, got ${embeddings.length / dim}`);
  const first = new Float32Array(pairs * dim);
  const second = new Float32Array(pairs * dim);
  for (let i = 0; i < pairs; i++) {
    first.set(embeddings.subarray(2 * i * dim, (2 * i + 1) * dim), i * dim);
    second.set(embeddings.subarray((2 * i + 1) * dim, (2 * i + 2) * dim), i * dim);
  }
  const distances = squaredDistances(first, second, dim);
  return { result: evaluateVerification(distances, same, options), distances };
}

/** Cosine similarity of two L2-normalised embeddings. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}
