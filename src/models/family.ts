// One way to define a family: a single definition object holds the family's option
// names, how a config is resolved (defaults filled in, values checked) and built, how
// the model describes itself, and its registered variants with their pretrained-style
// configs. Accepted options, clone(), registration and describe() all follow from it
// (as timm's build_model_with_cfg + default_cfgs, and torchvision's Weights).
import type { StateDict } from '../io/types.js';
import type { GlobalPool } from '../layers/classifier-head.js';
import type { ImageClassifier } from './classifier.js';
import type { EmbeddingModel } from './embedding.js';

/** The pretrained-style config of a model (timm's PretrainedCfg): how its inputs are prepared, and its key module names. */
export interface PretrainedConfig {
  /** [channels, height, width] of the input the model was designed for. */
  inputSize: [number, number, number];
  /** Fraction of the resized image kept by the centre crop at evaluation (224/256). */
  cropPct: number;
  interpolation: 'bilinear' | 'bicubic';
  /** Per-channel normalisation of that input. */
  mean: number[];
  std: number[];
  numClasses: number;
  /**
   * Module path of the first convolution, or of every convolution that reads the input
   * (timm's first_conv, which may be a tuple too: FractalNet's columns all read it); each
   * is adapted for other input channels on load.
   */
  firstConv: string | string[];
  /** Module path of the classifier (its keys are dropped for features-only models and a new class count). */
  classifier: string;
}

/** The state-dict keys of the weights of `config.firstConv`'s convolutions. */
export function firstConvKeys(config: Pick<PretrainedConfig, 'firstConv'>): string[] {
  return (typeof config.firstConv === 'string' ? [config.firstConv] : config.firstConv).map((path) => `${path}.weight`);
}

/** Options every family takes (timm's cross-family arguments). */
export interface CommonConfig {
  /** Used in messages; the family's name for an unnamed custom config. */
  name?: string;
  /** Size of the logits; 0: no classifier (the head returns pooled features). */
  numClasses?: number;
  inChans?: number;
  /** Pooling before the classifier; '' returns the feature map (with numClasses 0). */
  globalPool?: GlobalPool;
  /** Dropout before the classifier. */
  dropRate?: number;
  /** Stochastic depth: the last block's drop probability; earlier blocks' rise linearly from 0. */
  dropPathRate?: number;
  /** Network stride of the last feature map (8 or 16 turn later strides into dilation); default the family's own. */
  outputStride?: number;
}

/** Options that shape what createModel returns, not the architecture. */
export interface BuildOnlyOptions {
  /** false skips the family's weight initialisation (weights are about to be loaded). */
  init?: boolean;
  /** Return a backbone: the stage outputs listed by outIndices, no classifier. */
  featuresOnly?: boolean;
  /** Which of featureInfo's stages a features-only model returns; default all. */
  outIndices?: number[];
}

/** A registered variant: its config over the family defaults and what sets it apart. */
export interface VariantDefinition<Config> {
  config: Partial<Config>;
  description: string;
  /** The group `resnets list` shows it under, when not the family's ('resnext' inside 'resnet'). */
  group?: string;
  /** When it comes from another paper than the family's. */
  paper?: string;
  pretrained?: Partial<PretrainedConfig>;
}

/**
 * SGD settings a family trains best with, taken when a run leaves them out (as timm keeps
 * a recipe per model): a network without shortcuts, such as FractalNet, wants a lower
 * rate than the ResNet papers' 0.1. Only SGD runs use them; a given setting wins.
 */
export interface FamilyTrainingDefaults {
  lr?: number;
  nesterov?: boolean;
  /** Where the values come from (a paper's training details), shown when a run uses them. */
  source: string;
}

/** 'lr 0.02, plain momentum (no Nesterov)', for run logs and `resnets list`. */
export function describeTrainingDefaults(family: FamilyTrainingDefaults): string {
  const parts = [family.lr === undefined ? '' : `lr ${family.lr}`, family.nesterov === undefined ? '' : family.nesterov ? 'Nesterov momentum' : 'plain momentum (no Nesterov)'];
  return parts.filter(Boolean).join(', ');
}

/**
 * A family of classifiers takes the common options (CommonConfig); a family of embedding
 * models (face recognition: fresnet, iresnet) has `kind: 'embedding'`, its own options
 * only, and builds EmbeddingModels, which have no classifier and no features-only form.
 */
export interface FamilyDefinition<
  Config extends { name?: string },
  Resolved extends Config & { name: string },
  Model extends ImageClassifier | EmbeddingModel,
  Names extends string = string,
> {
  /** The config's `family` value ('resnet'). */
  family: string;
  /** 'embedding' for families whose models return embeddings (default 'classifier'). */
  kind?: 'classifier' | 'embedding';
  /** Class-like name used by describe() ('ResNet'). */
  title: string;
  paper: string;
  /** Every option a config or createModel accepts, with the values it takes (for errors and docs). */
  options: { readonly [K in Exclude<keyof Config, 'family'>]-?: string };
  /** Fills in every default and checks every value; the result rebuilds the same model. */
  resolve(config: Config): Resolved;
  build(config: Resolved, options: { init: boolean }): Model;
  /** The architecture facts that decide the state-dict keys ('bottleneck blocks, depths [3, 4, 6, 3]'). */
  describe(config: Resolved): string;
  /** The pretrained config of a resolved config; a variant's `pretrained` overrides fields. */
  pretrained(config: Resolved): PretrainedConfig;
  variants: Record<Names, VariantDefinition<Config>>;
  /** Training settings that differ from the library's SGD defaults for this family. */
  trainingDefaults?: FamilyTrainingDefaults;
  /** timm's pretrained_filter_fn: rewrites a checkpoint (old key names, extra entries) before it loads. */
  filterStateDict?(dict: StateDict, model: Model): StateDict;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFamily = FamilyDefinition<any, any, ImageClassifier | EmbeddingModel, string>;

/** Identity, for type inference: `defineFamily({...})` checks the object against FamilyDefinition and keeps its variant names. */
export function defineFamily<Config extends { name?: string }, Resolved extends Config & { name: string }, Model extends ImageClassifier | EmbeddingModel, Names extends string>(
  definition: FamilyDefinition<Config, Resolved, Model, Names>,
): FamilyDefinition<Config, Resolved, Model, Names> {
  return definition;
}
