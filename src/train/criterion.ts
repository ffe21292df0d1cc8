// What the training step and evaluation do with a model's output before cross-entropy.
// A classifier's output is already the logits; an embedding network's output goes
// through a head with its own trained tensors (class centres and a margin).
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';

export interface CriterionOutput {
  /** What cross-entropy is taken over (a margin loss lowers the target class's logit). */
  logits: Tensor;
  /** Per-class scores without any margin: accuracy and top-k are read from these. */
  scores: Tensor;
}

export interface Criterion {
  lossLogits(output: Tensor, labels: Tensor): CriterionOutput;
}

/** A criterion that trains tensors of its own: they are optimised, saved and restored with the model's. */
export type TrainedCriterion = Criterion & Module<Tensor, Tensor>;

/** The model's output is the logits. */
export const logitsCriterion: Criterion = {
  lossLogits: (output) => ({ logits: output, scores: output }),
};
