// The one table of families. Registration, the typed model names and each name's
// options follow from it: createModel('resnet5O') or { numClass: 3 } fail at compile
// time. A new family adds its definition here and nowhere else.
import type { ImageClassifier } from './classifier.js';
import { cifarResNetFamily } from './cifar-resnet.js';
import type { BuildOnlyOptions } from './family.js';
import type { FeatureListNet } from './features.js';
import { createPretrainedModel } from './pretrained-model.js';
import { createModelByName, createModelFromConfigByName, registerFamily } from './registry.js';
import { denseNetFamily } from './densenet.js';
import { fractalNetFamily } from './fractalnet.js';
import { fresnetFamily } from './fresnet.js';
import { iresnetFamily } from './iresnet.js';
import { mxnetResNeXtFamily } from './mxnet-resnext.js';
import { resnetFamily } from './resnet.js';
import { resnetV2Family } from './resnetv2.js';

export const families = [resnetFamily, cifarResNetFamily, resnetV2Family, mxnetResNeXtFamily, fresnetFamily, iresnetFamily, denseNetFamily, fractalNetFamily] as const;

for (const family of families) registerFamily(family);

type Families = (typeof families)[number];
type FamilyOf<Name> = Families extends infer F ? (F extends { variants: infer V } ? (Name extends keyof V ? F : never) : never) : never;
type ConfigOfFamily<F> = F extends { resolve(config: infer C): unknown } ? C : never;
type ModelOfFamily<F> = F extends { build(config: never, options: never): infer M } ? M : never;

/** Every registered model name. */
export type ModelName = Families extends infer F ? (F extends { variants: infer V } ? keyof V & string : never) : never;
/**
 * Pretrained weights by name ('IMAGENET1K_V2', or 'DEFAULT'), as torchvision's
 * `weights=`: downloaded into the cache on first use, hash-checked, then loaded.
 */
export interface PretrainedOption {
  weights?: string;
}
/** The options `name` accepts: its family's config (depths and all, over the variant's), the build options and `weights`. */
export type OptionsFor<Name extends ModelName> = Partial<Omit<ConfigOfFamily<FamilyOf<Name>>, 'family' | 'name'>> & BuildOnlyOptions & PretrainedOption;
/** Any family's plain config, told apart by `family` ('resnet' when absent). */
export type AnyModelConfig = { [F in Families as F['family']]: ConfigOfFamily<F> }[Families['family']];

/**
 * Builds the named model; `options` override its defaults (numClasses, inChans, family
 * options). With featuresOnly: true it returns a backbone giving the stage outputs.
 * For a name known only at run time, use createModelByName.
 */
export function createModel<Name extends ModelName>(name: Name, options: OptionsFor<Name> & { featuresOnly: true }): FeatureListNet;
export function createModel<Name extends ModelName>(name: Name, options?: OptionsFor<Name> & { featuresOnly?: false }): ModelOfFamily<FamilyOf<Name>>;
export function createModel(name: string, options: object = {}): unknown {
  const { weights, ...rest } = options as Record<string, unknown> & PretrainedOption;
  if (weights !== undefined) return createPretrainedModel(name, weights, rest);
  return createModelByName(name, rest);
}

/** Builds a custom variant from a plain config (depths, widths, block type, groups, ...). */
export function createModelFromConfig(config: AnyModelConfig, build: BuildOnlyOptions & { featuresOnly: true }): FeatureListNet;
export function createModelFromConfig(config: AnyModelConfig, build?: BuildOnlyOptions & { featuresOnly?: false }): ImageClassifier;
export function createModelFromConfig(config: AnyModelConfig, build: BuildOnlyOptions = {}): unknown {
  return createModelFromConfigByName(config as unknown as Record<string, unknown>, build);
}
