// Evaluation over a batch source: mean loss, top-1 and top-5 accuracy, confusion matrix.
import type { Module } from '../nn/module.js';
import { crossEntropy } from '../torch/functional.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { lossAndScores, type LossFunction } from './step.js';
import { ConfusionMatrix, topKCorrect } from './metrics.js';

/** One batch as the data loader yields it; the consumer disposes the tensors. */
export interface Batch {
  images: Tensor;
  labels: Tensor;
  indices?: ArrayLike<number>;
}

/** What training and evaluation need from a data loader. */
export interface BatchSource {
  numBatches(): number;
  batches(epoch: number, options?: { startBatch?: number }): AsyncIterable<Batch>;
}

export interface EvalResult {
  loss: number;
  top1: number;
  /** Top-5 accuracy; undefined for five classes or fewer, where it is always 100%. */
  top5?: number;
  count: number;
  confusion: ConfusionMatrix;
  seconds: number;
}

export interface EvalOptions {
  numClasses: number;
  /** The loss (as training takes it; default: cross-entropy on the output); accuracy is read from its scores. */
  loss?: LossFunction;
  /** Which epoch's order to ask the loader for (evaluation loaders do not shuffle, so any). */
  epoch?: number;
  onBatch?: (done: number, total: number) => void;
}

/** Runs `model` in eval mode over every batch; restores the model's previous mode. */
export async function evaluate(model: Module, data: BatchSource, options: EvalOptions): Promise<EvalResult> {
  const started = performance.now();
  const wasTraining = model.training;
  model.eval();
  const confusion = new ConfusionMatrix(options.numClasses);
  let lossSum = 0;
  let top1 = 0;
  let top5 = 0;
  let count = 0;
  let done = 0;
  const total = data.numBatches();
  try {
    for await (const batch of data.batches(options.epoch ?? 0)) {
      try {
        const result = noGrad(() =>
          tidy(() => {
            const output = model.call(batch.images);
            let loss: number;
            let scores = output;
            if (options.loss) {
              const result = lossAndScores(options.loss, output, batch.labels);
              loss = result.loss.item() * batch.labels.size(0);
              scores = result.scores;
            } else {
              loss = crossEntropy(output, batch.labels, { reduction: 'sum' }).item();
            }
            const [hits1, hits5] = topKCorrect(scores, batch.labels, [1, 5]);
            confusion.addLogits(scores, batch.labels);
            return { loss, hits1, hits5 };
          }),
        );
        lossSum += result.loss;
        top1 += result.hits1;
        top5 += result.hits5;
        count += batch.labels.size(0);
      } finally {
        batch.images.dispose();
        batch.labels.dispose();
      }
      options.onBatch?.(++done, total);
    }
  } finally {
    model.train(wasTraining);
  }
  if (count === 0) throw new Error('evaluation data is empty');
  return { loss: lossSum / count, top1: top1 / count, top5: options.numClasses > 5 ? top5 / count : undefined, count, confusion, seconds: (performance.now() - started) / 1000 };
}

/** Class probabilities [N, C] for a batch of images, in eval mode without gradients. */
export function predictProbabilities(model: Module, images: Tensor): Tensor {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => tidy(() => model.call(images).softmax(1)));
  } finally {
    model.train(wasTraining);
  }
}
