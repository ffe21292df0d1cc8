// The common face of every image model in the zoo: an input check that says what was
// expected, forwardFeatures / forward, the resolved config, and an inference-only mode
// (set by fuseForInference) that runs without autograd and optionally channels-last.
import type { StateDict } from '../io/types.js';
import { Module, type LoadResult } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import { runSegments, type CheckpointUnit } from './checkpoint-segments.js';
import { isFloatingPoint } from '../torch/dtype.js';
import type { ModelConfig } from './registry.js';

export interface InferenceSettings {
  /** Inputs are converted to channels-last (NHWC) memory before the first convolution. */
  channelsLast: boolean;
}

/** How setGradCheckpointing splits the network: `segments` checkpointed runs of units (default: one per unit). */
export interface GradCheckpointingOptions {
  segments?: number;
}

export abstract class ImageClassifier extends Module {
  #inference: InferenceSettings | null = null;
  #gradCheckpointing: { segments: number | null } | null = null;

  constructor(
    /** The registered name ('resnet50') or a name given to a custom config. */
    readonly name: string,
    readonly inChans: number,
    /** Size of the logits; 0 means no classifier (forward returns pooled features). */
    readonly numClasses: number,
  ) {
    super();
  }

  /** The resolved plain config: every option filled in, enough to rebuild the model. */
  abstract readonly config: ModelConfig;
  /** Channels of the feature map that forwardFeatures returns (the classifier's input). */
  abstract readonly numFeatures: number;

  /** The network up to (not including) global pooling: [N, numFeatures, h, w]. */
  protected abstract features(input: Tensor): Tensor;
  /** Global pooling and the classifier. */
  protected abstract head(features: Tensor): Tensor;
  /** A new model with the same config and a copy of the parameters and buffers. */
  abstract clone(): ImageClassifier;

  /** For clone(): gives `copy` this model's dtype, device, values and train/eval mode. */
  protected copyStateInto<T extends ImageClassifier>(copy: T): T {
    if (this.inferenceOnly) throw new Error(`${this.name}: a model fused for inference cannot be cloned; clone the original`);
    const reference = this.parameters()[0];
    if (reference) copy.to(reference.device).to(reference.dtype);
    copy.loadStateDict(this.stateDict());
    return copy.train(this.training);
  }

  /** Throws unless `input` is a floating-point [N, inChans, H, W] tensor. */
  checkInput(input: Tensor): void {
    const shape = input.shape;
    if (shape.length !== 4 || shape[1] !== this.inChans) {
      throw new Error(`${this.name} expects input [N, ${this.inChans}, H, W] (inChans ${this.inChans}), got [${shape.join(', ')}]`);
    }
    if (!isFloatingPoint(input.dtype)) {
      throw new Error(`${this.name} expects a floating-point input, got ${input.dtype} (convert images with .float() and normalise them)`);
    }
  }

  forwardFeatures(input: Tensor): Tensor {
    this.checkInput(input);
    return this.#run(() => this.features(this.#prepare(input)));
  }

  /** Pooling and classifier on a feature map from forwardFeatures. */
  forwardHead(features: Tensor): Tensor {
    return this.#run(() => this.head(features));
  }

  forward(input: Tensor): Tensor {
    this.checkInput(input);
    return this.#run(() => this.head(this.features(this.#prepare(input))));
  }

  /**
   * Activation checkpointing for training: the feature extractor's units (stem layers,
   * blocks, transitions) run in checkpointed segments that keep only their inputs and
   * are recomputed in backward with the same random state. `true` makes every unit a
   * segment; `{ segments: N }` groups them into N runs; `false` turns it off.
   */
  setGradCheckpointing(enable: boolean | GradCheckpointingOptions = true): this {
    if (enable === false) {
      this.#gradCheckpointing = null;
      return this;
    }
    const segments = enable === true ? undefined : enable.segments;
    if (segments !== undefined && (!Number.isInteger(segments) || segments < 1)) {
      throw new Error(`${this.name}: setGradCheckpointing segments must be an integer >= 1, got ${JSON.stringify(segments)}`);
    }
    this.#gradCheckpointing = { segments: segments ?? null };
    return this;
  }

  /** The checkpointing setting (null when off; segments null = one segment per unit). */
  get gradCheckpointing(): { readonly segments: number | null } | null {
    return this.#gradCheckpointing;
  }

  /**
   * Runs the feature extractor's units in order, in checkpointed segments while
   * checkpointing is on and the model trains; families call this from features().
   */
  protected runUnits(input: Tensor, units: CheckpointUnit[]): Tensor {
    const active = this.#gradCheckpointing !== null && this.training;
    return runSegments(input, units, active ? (this.#gradCheckpointing!.segments ?? units.length) : 0);
  }

  /** True once fuseForInference has folded this model's BatchNorms: it can no longer train. */
  get inferenceOnly(): boolean {
    return this.#inference !== null;
  }
  get inferenceSettings(): Readonly<InferenceSettings> | null {
    return this.#inference;
  }

  /** Switches to inference only (eval mode, no autograd); fuseForInference calls this after folding. */
  markInferenceOnly(settings: InferenceSettings): this {
    this.eval();
    this.#inference = { ...settings };
    return this;
  }

  override train(mode = true): this {
    if (mode && this.#inference) {
      throw new Error(`${this.name} was fused for inference (BatchNorm folded into its convolutions) and cannot train; fuse a copy and train the original`);
    }
    return super.train(mode);
  }

  /** As Module.loadStateDict; a failure names this model and its architecture. */
  override loadStateDict(dict: StateDict, options: { strict?: boolean } = {}): LoadResult {
    try {
      return super.loadStateDict(dict, options);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${this.describe()} cannot load this state dict (is it a checkpoint of another model?):\n${reason}`);
    }
  }

  /** One line naming the model and the architecture facts that decide its state-dict keys. */
  describe(): string {
    return `${this.name} (${this.constructor.name}, inChans ${this.inChans}, numClasses ${this.numClasses})`;
  }

  #prepare(input: Tensor): Tensor {
    return this.#inference?.channelsLast ? input.contiguous('channelsLast') : input;
  }

  // Intermediates are freed when the pass ends; inference-only models record no graph.
  #run(fn: () => Tensor): Tensor {
    return this.#inference ? noGrad(() => tidy(fn)) : tidy(fn);
  }
}
