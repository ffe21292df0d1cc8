// The common face of face-recognition networks (InsightFace's fresnet, arcface_torch's
// IResNet): they are not classifiers. forward() maps a batch of prepared images to
// embeddings [N, embeddingSize]; the identity is decided by comparing embeddings
// (cosine similarity), and training puts a margin loss (ArcFace, CosFace) on top.
//
// Each model says how raw pixels become its input (`preprocessing`), because the two
// lineages differ: fresnet scales (x - 127.5) / 128 inside its own graph and takes raw
// 0..255 pixels, arcface_torch expects (x / 255 - 0.5) / 0.5 applied outside the model.
import { Module } from '../nn/module.js';
import { tensor } from '../torch/creation.js';
import { isFloatingPoint } from '../torch/dtype.js';
import { noGrad } from '../torch/runtime.js';
import { dispose, tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

/** What every embedding model's resolved config holds: its family and name. */
export interface EmbeddingConfig {
  family: string;
  name: string;
}

/** How an image becomes this model's input. */
export interface EmbeddingPreprocessing {
  /** [channels, height, width] of the aligned face crop the model was built for (3 x 112 x 112). */
  inputSize: [number, number, number];
  /** Channel order of the input: both InsightFace lineages take RGB. */
  channels: 'RGB';
  /**
   * Applied outside the network to pixels in 0..255, per channel: (pixel / 255 - mean) / std.
   * null: the network takes raw 0..255 pixels and normalises inside its graph.
   */
  normalize: { mean: number[]; std: number[] } | null;
}

export abstract class EmbeddingModel extends Module {
  constructor(
    /** The registered name ('fresnet100', 'iresnet50') or a name given to a custom config. */
    readonly name: string,
  ) {
    super();
  }

  /** Length of the embedding forward() returns. */
  abstract readonly embeddingSize: number;
  /** The resolved plain config: every option filled in, enough to rebuild the model. */
  abstract readonly config: EmbeddingConfig;
  abstract readonly preprocessing: EmbeddingPreprocessing;

  /** The network on prepared input (see `preprocess`): [N, C, H, W] -> [N, embeddingSize]. */
  protected abstract embedding(input: Tensor): Tensor;
  /** A new model with the same config and a copy of the parameters and buffers. */
  abstract clone(): EmbeddingModel;

  /** `copy` (a fresh model of this config) given this model's parameters, buffers and mode. */
  protected copyStateInto<M extends EmbeddingModel>(copy: M): M {
    const dict = this.stateDict();
    copy.loadStateDict(dict);
    dispose(dict); // stateDict() hands out views
    return copy.train(this.training);
  }

  /** Throws unless `input` is a floating-point [N, C, H, W] tensor with this model's channels. */
  checkInput(input: Tensor): void {
    const shape = input.shape;
    const channels = this.preprocessing.inputSize[0];
    if (shape.length !== 4 || shape[1] !== channels) {
      throw new Error(`${this.name} expects input [N, ${channels}, H, W], got [${shape.join(', ')}]`);
    }
    if (!isFloatingPoint(input.dtype)) throw new Error(`${this.name} expects a floating-point input, got ${input.dtype} (convert images with .float())`);
  }

  /** Embeddings of prepared input, in the current train/eval mode, with autograd (for training). */
  forward(input: Tensor): Tensor {
    this.checkInput(input);
    return tidy(() => this.embedding(input));
  }

  /** Raw pixels (0..255, RGB, [N, C, H, W]) to this model's input: the identity when the network normalises itself. */
  preprocess(images: Tensor): Tensor {
    this.checkInput(images);
    const normalize = this.preprocessing.normalize;
    if (!normalize) return images.clone();
    return tidy(() => {
      const shape = [1, normalize.mean.length, 1, 1];
      const mean = tensor(normalize.mean, { dtype: images.dtype, shape });
      const std = tensor(normalize.std, { dtype: images.dtype, shape });
      return images.div(255).sub(mean).div(std);
    });
  }

  /**
   * Embeddings of raw pixel images (0..255, RGB, [N, C, H, W], aligned crops of
   * `preprocessing.inputSize`): preprocessing, then the network in eval mode without
   * autograd; the model's mode is restored. The result is not L2-normalised.
   */
  embed(images: Tensor): Tensor {
    const training = this.training;
    this.eval();
    try {
      return noGrad(() => tidy(() => this.forward(this.preprocess(images))));
    } finally {
      this.train(training);
    }
  }

  /** One line naming the model and the facts that decide its state-dict keys. */
  describe(): string {
    return `${this.name} (${this.constructor.name}, ${this.embeddingSize}-d embedding)`;
  }
}
