// What turns a batch of embeddings into training logits. A margin head holds one class
// centre per identity (arcface_torch's PartialFC weight with sample rate 1): embeddings
// and centres are L2-normalised, their cosines clamped to [-1, 1] (as PartialFC does
// before its margin) and given the margin. The softmax head is InsightFace's plain
// 'softmax' loss: a biased fully connected layer on the raw embedding.
import { normal_ } from '../../nn/init.js';
import { Linear } from '../../nn/linear.js';
import { Module } from '../../nn/module.js';
import type { Parameter } from '../../nn/parameter.js';
import { empty } from '../../torch/creation.js';
import { linear, normalize } from '../../torch/functional.js';
import { tidy } from '../../torch/scope.js';
import type { Tensor } from '../../torch/tensor.js';
import { crossEntropy } from '../../torch/functional.js';
import type { LossFunction } from '../step.js';

/** What a head gives the loss: logits for cross-entropy, and scores without the margin for accuracy and top-k. */
export interface HeadLogits {
  /** The target class's logit lowered by the margin. */
  logits: Tensor;
  /** Cosines to the class centres (or the classifier's logits): no margin. */
  scores: Tensor;
}
import { marginDefaults, marginLogits, marginLossNames, type MarginLossName, type MarginSpec } from './margin.js';

export type EmbeddingLossName = MarginLossName | 'softmax';
export const embeddingLossNames: readonly EmbeddingLossName[] = [...marginLossNames, 'softmax'];

/** A trainable head between an embedding network and the cross-entropy loss. */
export abstract class EmbeddingHead extends Module<Tensor, Tensor> {
  constructor(
    readonly numClasses: number,
    readonly embeddingSize: number,
  ) {
    super();
  }
  /** Logits for the loss (margin on the target class) and scores without it, for embeddings [N, embeddingSize] and int64 labels [N]. */
  abstract lossLogits(embeddings: Tensor, labels: Tensor): HeadLogits;

  /** The training loss over the model's embeddings: cross-entropy of lossLogits, with the scores for accuracy. */
  lossFunction(): LossFunction {
    return (embeddings, labels) => {
      const { logits, scores } = this.lossLogits(embeddings, labels);
      return { loss: crossEntropy(logits, labels), scores };
    };
  }
  /** One line for logs: the loss and its settings. */
  abstract describe(): string;

  protected checkEmbeddings(embeddings: Tensor): void {
    if (embeddings.ndim !== 2 || embeddings.size(1) !== this.embeddingSize) {
      throw new Error(`the ${this.describe()} head takes embeddings [N, ${this.embeddingSize}], got [${embeddings.shape.join(', ')}] (does --embedding-size match the model's output?)`);
    }
  }
}

export class MarginHead extends EmbeddingHead {
  /** The class centres [numClasses, embeddingSize]; saved with the run. */
  readonly weight: Parameter;
  readonly spec: MarginSpec;

  constructor(
    readonly loss: MarginLossName,
    numClasses: number,
    embeddingSize: number,
    spec: Partial<MarginSpec> = {},
  ) {
    super(numClasses, embeddingSize);
    this.spec = { ...marginDefaults[loss], ...spec };
    // PartialFC's initialisation: torch.normal(0, 0.01, (num_classes, embedding_size)).
    const weight = normal_(empty([numClasses, embeddingSize]), 0, 0.01);
    this.weight = this.registerParameter('weight', weight)!;
    weight.dispose();
  }

  /** Cosines between each embedding and each class centre, clamped to [-1, 1]. */
  forward(embeddings: Tensor): Tensor {
    this.checkEmbeddings(embeddings);
    return tidy(() => linear(normalize(embeddings, 1), normalize(this.weight, 1)).clamp(-1, 1));
  }

  lossLogits(embeddings: Tensor, labels: Tensor): HeadLogits {
    return tidy(() => {
      const cosine = this.forward(embeddings);
      return { logits: marginLogits(this.loss, cosine, labels, this.spec), scores: cosine };
    });
  }

  describe(): string {
    const { s, m1, m2, m3 } = this.spec;
    if (this.loss === 'arcface') return `ArcFace (s ${s}, m ${m2})`;
    if (this.loss === 'cosface') return `CosFace (s ${s}, m ${m3})`;
    return `combined margin (s ${s}, m1 ${m1}, m2 ${m2}, m3 ${m3})`;
  }
}

export class SoftmaxHead extends EmbeddingHead {
  readonly fc: Linear;

  constructor(numClasses: number, embeddingSize: number) {
    super(numClasses, embeddingSize);
    this.fc = new Linear(embeddingSize, numClasses);
    this.registerModule('fc', this.fc);
  }

  forward(embeddings: Tensor): Tensor {
    this.checkEmbeddings(embeddings);
    return this.fc.call(embeddings);
  }

  lossLogits(embeddings: Tensor): HeadLogits {
    const logits = this.forward(embeddings);
    return { logits, scores: logits };
  }

  describe(): string {
    return 'softmax cross-entropy';
  }
}

/** The head for `loss`: class centres with a margin, or a plain classifier for 'softmax'. */
export function createEmbeddingHead(loss: EmbeddingLossName, numClasses: number, embeddingSize: number, spec: Partial<MarginSpec> = {}): EmbeddingHead {
  if (loss === 'softmax') return new SoftmaxHead(numClasses, embeddingSize);
  if (!marginLossNames.includes(loss)) throw new Error(`unknown loss '${String(loss)}'; expected one of ${embeddingLossNames.join(', ')}`);
  return new MarginHead(loss, numClasses, embeddingSize, spec);
}
