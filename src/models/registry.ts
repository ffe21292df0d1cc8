// The model registry: one table of families (their definitions) and of the named models
// they register, with the facts tools need without building a model (paper, input size,
// normalisation, key module names). The typed createModel lives in zoo.ts, which holds
// the list of families; this module is the untyped machinery under it.
import { totalmem } from 'node:os';
import { withDefaultDevice } from '../torch/creation.js';
import { dtypeSize } from '../torch/dtype.js';
import { ImageClassifier } from './classifier.js';
import type { EmbeddingModel } from './embedding.js';
import type { AnyFamily, BuildOnlyOptions, FamilyTrainingDefaults, PretrainedConfig, VariantDefinition } from './family.js';
import { FeatureListNet } from './features.js';
import { checkBoolean, rejectUnknownOptions } from './options.js';

/** What tools need to know about a registered model without building it. */
export interface ModelInfo {
  name: string;
  /** The group it is listed under: 'resnet', 'resnext', 'seresnet', 'resnetv2', ... */
  family: string;
  /** The family definition that builds it ('resnet' builds resnext50_32x4d too). */
  architecture: string;
  paper: string;
  /** [channels, height, width] of the input the model was designed for. */
  defaultInputSize: [number, number, number];
  mean: number[];
  std: number[];
  /** Fraction of the resized image kept by the centre crop at evaluation (224/256). */
  cropPct: number;
  interpolation: PretrainedConfig['interpolation'];
  numClasses: number;
  /** Module paths of the first convolution(s) (PretrainedConfig.firstConv) and of the classifier. */
  firstConv: string | string[];
  classifier: string;
  description: string;
  /** 'embedding' for models that return embeddings, not class scores (fresnet, iresnet). */
  kind: 'classifier' | 'embedding';
  /** The family's own SGD training settings, where it has them (FamilyDefinition.trainingDefaults). */
  trainingDefaults?: FamilyTrainingDefaults;
}

/** Options of the untyped path (the CLI, a name read from a file): checked at run time against the family's. */
export type ModelOptions = Record<string, unknown>;

interface Entry {
  info: ModelInfo;
  definition: AnyFamily;
  variant: VariantDefinition<Record<string, unknown>>;
}

const families = new Map<string, AnyFamily>();
const models = new Map<string, Entry>();

const buildOnlyOptionNames: (keyof BuildOnlyOptions)[] = ['init', 'featuresOnly', 'outIndices'];

function freezeInfo(info: ModelInfo): ModelInfo {
  return Object.freeze({
    ...info,
    defaultInputSize: Object.freeze([...info.defaultInputSize]) as ModelInfo['defaultInputSize'],
    mean: Object.freeze([...info.mean]) as number[],
    std: Object.freeze([...info.std]) as number[],
    firstConv: typeof info.firstConv === 'string' ? info.firstConv : (Object.freeze([...info.firstConv]) as string[]),
  });
}

/** Adds a family and every variant it defines; names must be new. */
export function registerFamily(definition: AnyFamily): void {
  if (families.has(definition.family)) throw new Error(`a model family named '${definition.family}' is already registered`);
  for (const name of Object.keys(definition.variants)) {
    if (models.has(name)) throw new Error(`a model named '${name}' is already registered`);
  }
  families.set(definition.family, definition);
  for (const [name, variant] of Object.entries(definition.variants) as [string, VariantDefinition<Record<string, unknown>>][]) {
    const resolved = definition.resolve({ ...variant.config, family: definition.family, name });
    const pretrained = { ...definition.pretrained(resolved), ...variant.pretrained };
    const info: ModelInfo = {
      name,
      family: variant.group ?? definition.family,
      architecture: definition.family,
      paper: variant.paper ?? definition.paper,
      defaultInputSize: pretrained.inputSize,
      mean: pretrained.mean,
      std: pretrained.std,
      cropPct: pretrained.cropPct,
      interpolation: pretrained.interpolation,
      numClasses: pretrained.numClasses,
      firstConv: pretrained.firstConv,
      classifier: pretrained.classifier,
      description: variant.description,
      kind: definition.kind ?? 'classifier',
      ...(definition.trainingDefaults ? { trainingDefaults: Object.freeze({ ...definition.trainingDefaults }) } : {}),
    };
    models.set(name, { info: freezeInfo(info), definition, variant });
  }
}

/** The definition of a registered family. */
export function familyDefinition(family: string): AnyFamily {
  const definition = families.get(family);
  if (!definition) throw new Error(`unknown model family '${family}'; known families: ${[...families.keys()].join(', ')}`);
  return definition;
}

export function listFamilies(): string[] {
  return [...families.keys()];
}

/** Every option a registered model accepts: its family's plus init, featuresOnly, outIndices. */
export function acceptedOptions(name: string): string[] {
  // The name is the registered one: not an option.
  return [...Object.keys(entryFor(name).definition.options).filter((option) => option !== 'name'), ...buildOnlyOptionNames];
}

const defined = (options: object) => Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));

/**
 * Builds a registered model from a name known only at run time (the CLI, a run's
 * metadata); options are checked against the family's at run time. Typed code uses
 * createModel from the package root, which checks names and options at compile time.
 */
export function createModelByName(name: string, options: ModelOptions = {}): ImageClassifier | FeatureListNet | EmbeddingModel {
  const { definition, variant } = entryFor(name);
  rejectUnknownOptions(name, options, acceptedOptions(name));
  const { init, featuresOnly, outIndices, ...overrides } = options as BuildOnlyOptions & Record<string, unknown>;
  return buildFrom(definition, { ...variant.config, ...defined(overrides), family: definition.family, name }, { init, featuresOnly, outIndices }, name);
}

/** createModelByName for callers that need a classifier (training, evaluation): featuresOnly is refused. */
export function createClassifierByName(name: string, options: ModelOptions = {}): ImageClassifier {
  if (options.featuresOnly) throw new Error(`${name}: featuresOnly builds a backbone, not a classifier; this command needs a classifier`);
  if (entryFor(name).info.kind === 'embedding') throw new Error(`${name} is an embedding model (it returns embeddings, not class scores); this needs a classifier`);
  return createModelByName(name, options) as ImageClassifier;
}

/** createModelByName for callers that need an embedding model (face verification, margin-loss training). */
export function createEmbeddingModelByName(name: string, options: ModelOptions = {}): EmbeddingModel {
  if (entryFor(name).info.kind !== 'embedding') throw new Error(`${name} is a classifier, not an embedding model (see 'resnets list' for fresnet* and iresnet*)`);
  return createModelByName(name, options) as EmbeddingModel;
}

/** The registry's record for `name`, or undefined for an unregistered name. */
export function findModelInfo(name: string): ModelInfo | undefined {
  return models.get(name)?.info;
}

/** Builds a custom variant from a plain config (depths, widths, block type, ...); `family` picks the definition ('resnet' by default). */
export function createModelFromConfigByName(config: Record<string, unknown>, build: BuildOnlyOptions = {}): ImageClassifier | FeatureListNet | EmbeddingModel {
  const definition = familyDefinition((config.family as string | undefined) ?? 'resnet');
  const label = (config.name as string | undefined) ?? definition.family;
  rejectUnknownOptions(label, config, ['family', ...Object.keys(definition.options)]);
  const full = { ...defined(config), family: definition.family };
  checkFitsInMemory(definition, full, label);
  return buildFrom(definition, full, build, label);
}

/**
 * A custom config can describe a network larger than the machine: it is built on the
 * 'meta' device first (shapes, no memory) and refused when its parameters would not fit.
 */
function checkFitsInMemory(definition: AnyFamily, config: Record<string, unknown>, label: string): void {
  const sized = withDefaultDevice('meta', () => definition.build(definition.resolve(config), { init: false }));
  const bytes = sized.parameters().reduce((total, p) => total + p.numel * dtypeSize[p.dtype], 0);
  sized.dispose();
  if (bytes > totalmem()) {
    throw new Error(
      `${label}: this config has ${(bytes / 4).toExponential(2)} parameters (${(bytes / 2 ** 30).toFixed(1)} GiB), more than this machine's ${(totalmem() / 2 ** 30).toFixed(1)} GiB of memory`,
    );
  }
}

function buildFrom(definition: AnyFamily, config: Record<string, unknown>, build: BuildOnlyOptions, label: string): ImageClassifier | FeatureListNet | EmbeddingModel {
  const init = build.init === undefined ? true : checkBoolean(label, 'init', build.init);
  const featuresOnly = build.featuresOnly === undefined ? false : checkBoolean(label, 'featuresOnly', build.featuresOnly);
  if (featuresOnly && definition.kind === 'embedding') throw new Error(`${label}: featuresOnly applies to classifiers; ${definition.family} is an embedding family`);
  if (!featuresOnly && build.outIndices !== undefined) throw new Error(`${label}: outIndices applies only with featuresOnly: true`);
  // A backbone has no classifier: built without one, so no classifier weights are made.
  const resolved = definition.resolve(featuresOnly ? { ...config, numClasses: 0 } : config);
  const model = definition.build(resolved, { init });
  return featuresOnly && model instanceof ImageClassifier ? FeatureListNet.fromModel(model, build.outIndices) : model;
}

export function getModelInfo(name: string): ModelInfo {
  return entryFor(name).info;
}

/**
 * Registered names, sorted; `pattern` is a glob ('resnet*', '*resnext*', 'resnet?0'),
 * or, without wildcards, a substring ('resnext').
 */
export function listModels(pattern?: string): string[] {
  const names = [...models.keys()].sort(byNaturalOrder);
  if (pattern === undefined) return names;
  if (!/[*?]/.test(pattern)) return names.filter((name) => name.toLowerCase().includes(pattern.toLowerCase()));
  const matcher = globToRegExp(pattern);
  return names.filter((name) => matcher.test(name));
}

function entryFor(name: string): Entry {
  const entry = models.get(name);
  if (entry) return entry;
  const close = closeMatches(name, [...models.keys()]);
  const hint = close.length > 0 ? `; did you mean ${close.join(', ')}?` : '';
  throw new Error(`unknown model '${name}'${hint} (listModels() gives all ${models.size})`);
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** resnet18 before resnet101: digits compare as numbers. */
function byNaturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Up to five names within a few edits of `name`, or containing it, nearest first. */
function closeMatches(name: string, candidates: string[]): string[] {
  const wanted = name.toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return candidates
    .map((candidate) => ({ candidate, distance: editDistance(wanted, candidate.toLowerCase()) }))
    .filter(({ candidate, distance }) => distance <= limit || (wanted.length >= 3 && candidate.toLowerCase().includes(wanted)))
    .sort((a, b) => a.distance - b.distance || byNaturalOrder(a.candidate, b.candidate))
    .slice(0, 5)
    .map(({ candidate }) => candidate);
}
