// How a registered model becomes an embedding network for margin training: an embedding
// family (fresnet, iresnet) takes `embeddingSize`; any classifier family gets
// `numClasses: embeddingSize`, so its final linear layer is the embedding layer (as the
// 'FC' head of InsightFace's get_fc1 puts a fully connected layer after pooling).
import { getModelInfo, type ModelOptions } from '../models/registry.js';

/** The options that make `name` output `embeddingSize`-d embeddings from `inChans`-channel images. */
export function embeddingModelOptions(name: string, embeddingSize: number, inChans: number): ModelOptions {
  if (!Number.isInteger(embeddingSize) || embeddingSize <= 0) throw new Error(`the embedding size must be a positive integer, got ${embeddingSize}`);
  const info = getModelInfo(name);
  if (info.kind !== 'embedding') return { numClasses: embeddingSize, inChans };
  if (inChans !== info.defaultInputSize[0]) {
    throw new Error(`${name} takes ${info.defaultInputSize[0]}-channel images and the data has ${inChans}; train it on RGB image folders (--channels 3)`);
  }
  return { embeddingSize };
}
