// How a registered model becomes an embedding network for margin training: an embedding
// family (fresnet, iresnet) takes `embeddingSize`; any classifier family gets
// `numClasses: embeddingSize`, so its final linear layer is the embedding layer (as the
// 'FC' head of InsightFace's get_fc1 puts a fully connected layer after pooling).
import { EmbeddingModel } from '../models/embedding.js';
import { createModel, type ModelOptions } from '../models/registry.js';
import { withDefaultDevice } from '../torch/creation.js';

/** Whether `name` builds an EmbeddingModel (checked on a storage-free 'meta' instance). */
export function isEmbeddingFamily(name: string): boolean {
  const probe = withDefaultDevice('meta', () => createModel(name, { init: false })) as unknown;
  try {
    return probe instanceof EmbeddingModel;
  } finally {
    (probe as { dispose(): void }).dispose();
  }
}

/** The options that make `name` output `embeddingSize`-d embeddings from `inChans`-channel images. */
export function embeddingModelOptions(name: string, embeddingSize: number, inChans: number): ModelOptions {
  if (!Number.isInteger(embeddingSize) || embeddingSize <= 0) throw new Error(`the embedding size must be a positive integer, got ${embeddingSize}`);
  if (isEmbeddingFamily(name)) return { embeddingSize };
  return { numClasses: embeddingSize, inChans };
}
