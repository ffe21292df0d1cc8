// The common face of every image model in the zoo (timm's model interface):
// forwardFeatures / forwardHead / forward, resetClassifier, featureInfo, the resolved
// config (enough to rebuild the model: clone() and describe() follow from the family
// definition), an input check that says what was expected, and an inference-only mode
// (set by fuseForInference) that runs without autograd and optionally channels-last.
import type { StateDict } from '../io/types.js';
import type { ClassifierHead, GlobalPool } from '../layers/classifier-head.js';
import { Module, type LoadResult } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { noGrad } from '../torch/runtime.js';
import { dispose, tidy } from '../torch/scope.js';
import { isFloatingPoint } from '../torch/dtype.js';
import type { CommonConfig, PretrainedConfig } from './family.js';
import { runChain } from './layers.js';
import { familyDefinition, findModelInfo } from './registry.js';

export interface InferenceSettings {
  /** Inputs are converted to channels-last (NHWC) memory before the first convolution. */
  channelsLast: boolean;
}

/** One feature map a backbone offers (timm's feature_info): its channels, stride, and the module that outputs it. */
export interface FeatureInfo {
  numChs: number;
  reduction: number;
  /** Module path ('layer1', 'stem.conv'): one of the trunk's steps. */
  module: string;
}

/** A resolved config: every common option filled in, the family named. */
export type ResolvedCommonConfig = Required<CommonConfig> & { family: string };

/** A step of forwardFeatures: a module and its path in the model. */
export type TrunkStep = [path: string, module: Module];

export abstract class ImageClassifier<Config extends ResolvedCommonConfig = ResolvedCommonConfig> extends Module {
  #inference: InferenceSettings | null = null;
  #config: Config;

  constructor(config: Config) {
    super();
    this.#config = config;
  }

  /** The registered name ('resnet50') or a name given to a custom config. */
  get name(): string {
    return this.#config.name;
  }
  get inChans(): number {
    return this.#config.inChans;
  }
  /** The resolved plain config: every option filled in, enough to rebuild the model. */
  get config(): Config {
    return this.#config;
  }
  /** Size of the logits; 0 means no classifier (forward returns pooled features). */
  get numClasses(): number {
    return this.classifierHead.numClasses;
  }
  /** Channels of the feature map that forwardFeatures returns (the head's input). */
  get numFeatures(): number {
    return this.classifierHead.inFeatures;
  }

  /** Pooling, dropout and classifier (registered flat or as `head`, as the family's layout has it). */
  abstract readonly classifierHead: ClassifierHead;
  /** The stage outputs a backbone offers, C1 (stride 2) to C5 (stride 32) for an ImageNet ResNet. */
  abstract readonly featureInfo: readonly FeatureInfo[];
  /** The modules forwardFeatures runs, in order; featureInfo names some of them. */
  abstract trunk(): TrunkStep[];

  /** The pretrained-style config: the registered variant's, or the family's for a custom config. */
  get pretrainedConfig(): PretrainedConfig {
    const info = findModelInfo(this.name);
    if (info && info.architecture === this.config.family) {
      return {
        inputSize: info.defaultInputSize,
        cropPct: info.cropPct,
        interpolation: info.interpolation,
        mean: info.mean,
        std: info.std,
        numClasses: info.numClasses,
        firstConv: info.firstConv,
        classifier: info.classifier,
      };
    }
    return familyDefinition(this.config.family).pretrained(this.config);
  }

  /** A new model with the same config and a copy of the parameters and buffers, dtype, device and mode. */
  clone(): this {
    if (this.inferenceOnly) throw new Error(`${this.name}: a model fused for inference cannot be cloned; clone the original`);
    const copy = familyDefinition(this.config.family).build(this.config, { init: false }) as this;
    const reference = this.parameters()[0];
    if (reference) copy.to(reference.device).to(reference.dtype);
    const dict = this.stateDict();
    copy.loadStateDict(dict);
    dispose(dict);
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
    const weights = this.parameters()[0]?.dtype;
    if (weights !== undefined && input.dtype !== weights) {
      throw new Error(`${this.name} has ${weights} weights but the input is ${input.dtype}; convert the input with .to('${weights}') (or the model with model.to('${input.dtype}'))`);
    }
  }

  /** The network up to (not including) global pooling: [N, numFeatures, h, w]. */
  forwardFeatures(input: Tensor): Tensor {
    this.checkInput(input);
    return this.#run(() => this.runTrunk(this.#prepare(input), this.trunk()));
  }

  /** Pooling and classifier on a feature map from forwardFeatures; `preLogits` stops before the classifier. */
  forwardHead(features: Tensor, options: { preLogits?: boolean } = {}): Tensor {
    return this.#run(() => this.classifierHead.run(features, { preLogits: options.preLogits ?? false }));
  }

  forward(input: Tensor): Tensor {
    this.checkInput(input);
    return this.#run(() => this.classifierHead.run(this.runTrunk(this.#prepare(input), this.trunk()), { preLogits: false }));
  }

  /**
   * Runs the trunk's steps in order. The one place activation checkpointing will hook
   * in (recomputing each step's activations in backward instead of keeping them).
   */
  protected runTrunk(input: Tensor, steps: TrunkStep[]): Tensor {
    return runChain(input, steps.map(([, module]) => module));
  }

  /** Activation checkpointing (timm's set_grad_checkpointing); not available yet. */
  setGradCheckpointing(enable = true): void {
    if (enable) throw new Error(`${this.name}: activation checkpointing (setGradCheckpointing) is not yet supported`);
  }

  /** A new classifier for `numClasses` (0: none, forward returns pooled features), optionally with another pooling. */
  resetClassifier(numClasses: number, globalPool?: GlobalPool): void {
    if (this.inferenceOnly) throw new Error(`${this.name}: a model fused for inference cannot change its classifier`);
    const reference = this.parameters()[0];
    this.classifierHead.reset(numClasses, globalPool);
    // The new layer starts in float32 on the CPU: match the rest of the model.
    if (reference) this.classifierHead.fc.to(reference.device).to(reference.dtype);
    this.classifierHead.fc.train(this.training);
    this.#config = { ...this.#config, numClasses, globalPool: this.classifierHead.globalPool };
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
    const definition = familyDefinition(this.config.family);
    return `${this.name} (${definition.title}, ${definition.describe(this.config)}, inChans ${this.inChans}, numClasses ${this.numClasses})`;
  }

  #prepare(input: Tensor): Tensor {
    return this.#inference?.channelsLast ? input.contiguous('channelsLast') : input;
  }

  // Intermediates are freed when the pass ends; inference-only models record no graph.
  #run(fn: () => Tensor): Tensor {
    return this.#inference ? noGrad(() => tidy(fn)) : tidy(fn);
  }
}
