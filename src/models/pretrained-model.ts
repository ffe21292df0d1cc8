// A registered model with pretrained weights by name: the checkpoint fetched into the
// cache (hash-checked), the model built with the checkpoint's class count, then loaded
// through the one checkpoint path (loadCheckpoint: the family's key filter and all).
import { loadCheckpoint } from './load.js';
import { createModelByName, type ModelOptions } from './registry.js';
import { cachedWeightsPath, loadPretrainedStateDict } from './weights-cache.js';

export function createPretrainedModel(name: string, tag: string, options: ModelOptions = {}): ReturnType<typeof createModelByName> {
  const { weights, dict } = loadPretrainedStateDict(name, tag);
  try {
    if (options.numClasses !== undefined && options.numClasses !== weights.numClasses) {
      throw new Error(`${name} ${weights.tag} has ${weights.numClasses} classes, not numClasses ${String(options.numClasses)}; load them with numClasses ${weights.numClasses}, then resetClassifier`);
    }
    const model = createModelByName(name, { ...options, ...(options.featuresOnly ? {} : { numClasses: weights.numClasses }), init: false });
    try {
      loadCheckpoint(model, dict, { source: cachedWeightsPath(weights) });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  } finally {
    for (const tensor of Object.values(dict)) tensor.dispose();
  }
}
