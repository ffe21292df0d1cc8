// A model whose BatchNorms are not the identity (random running statistics and scales),
// as a trained one's are: folding and fused kernels then have something to get wrong.
import { createModel } from '../../src/models/index.js';
import type { Module } from '../../src/nn/module.js';
import { randn } from '../../src/torch/creation.js';
import { manualSeed, noGrad } from '../../src/torch/runtime.js';
import { tidy } from '../../src/torch/scope.js';
import type { Tensor } from '../../src/torch/tensor.js';

export type ImageModel = Module<Tensor, Tensor>;

export function trainedLookingModel(name: string, options: Record<string, unknown> = { numClasses: 7 }): ImageModel {
  manualSeed(3);
  const model = createModel(name as never, { ...options, init: false } as never) as unknown as ImageModel;
  noGrad(() => {
    const dict = model.stateDict();
    for (const [key, tensor] of Object.entries(dict)) {
      if (key.endsWith('running_mean')) tensor.copy_(tidy(() => randn(tensor.shape).mul(0.1)));
      if (key.endsWith('running_var')) tensor.copy_(tidy(() => randn(tensor.shape).abs().add(0.5)));
      const norm = key.replace(/\.weight$/, '');
      if (key.endsWith('.weight') && dict[`${norm}.running_mean`]) tensor.copy_(tidy(() => randn(tensor.shape).mul(0.2).add(1)));
    }
  });
  return model;
}
