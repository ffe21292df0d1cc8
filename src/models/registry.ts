// The model registry: every named model with the facts tools need to describe it
// (paper, input size, normalisation), and createModel / listModels / getModelInfo.
import type { ImageClassifier } from './classifier.js';
import { loadInto } from '../nn/module.js';
import { loadPretrainedStateDict } from './weights-cache.js';

/** What tools need to know about a registered model without building it. */
export interface ModelInfo {
  name: string;
  family: string;
  paper: string;
  /** [channels, height, width] of the input the model was designed for. */
  defaultInputSize: [number, number, number];
  /** Per-channel normalisation of that input. */
  mean: number[];
  std: number[];
  /** Fraction of the resized image kept by the centre crop at evaluation (224/256). */
  cropPct?: number;
  numClasses: number;
  description?: string;
}

/**
 * Options every family understands; each family adds its own. Unknown options are
 * rejected by the family's builder, so a typo is an error, not a silent default.
 */
export interface ModelOptions {
  numClasses?: number;
  inChans?: number;
  /**
   * false skips the family's weight initialisation (for a model whose weights are
   * about to be loaded from a checkpoint); layers keep their construction defaults.
   */
  init?: boolean;
  /**
   * Pretrained weights by name ('IMAGENET1K_V2', or 'DEFAULT'), as torchvision's
   * `weights=`: downloaded into the cache on first use, hash-checked, then loaded.
   */
  weights?: string;
  [familyOption: string]: unknown;
}

export type ModelBuilder = (name: string, options: ModelOptions) => ImageClassifier;

interface Entry {
  info: ModelInfo;
  build: ModelBuilder;
}

const models = new Map<string, Entry>();

/** Adds a model; its name must be new. */
export function registerModel(info: ModelInfo, build: ModelBuilder): void {
  if (models.has(info.name)) throw new Error(`a model named '${info.name}' is already registered`);
  // Frozen copies: the record is shared by every caller of getModelInfo.
  const record: ModelInfo = {
    ...info,
    defaultInputSize: Object.freeze([...info.defaultInputSize]) as ModelInfo['defaultInputSize'],
    mean: Object.freeze([...info.mean]) as number[],
    std: Object.freeze([...info.std]) as number[],
  };
  models.set(info.name, { info: Object.freeze(record), build });
}

/** Builds the named model; `options` override its defaults (numClasses, inChans, family options). */
export function createModel(name: string, options: ModelOptions = {}): ImageClassifier {
  const { weights: tag, ...rest } = options;
  const entry = entryFor(name);
  if (tag === undefined) return entry.build(name, rest);
  const { weights, dict } = loadPretrainedStateDict(name, tag);
  if (rest.numClasses !== undefined && rest.numClasses !== weights.numClasses) {
    for (const tensor of Object.values(dict)) tensor.dispose();
    throw new Error(`${name} ${weights.tag} has ${weights.numClasses} classes, not numClasses ${rest.numClasses}; load them with numClasses ${weights.numClasses}, then resetClassifier`);
  }
  return loadInto(entry.build(name, { ...rest, numClasses: weights.numClasses, init: false }), dict);
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

/** A plain, JSON-friendly description of a network; `family` picks the builder ('resnet' by default). */
export interface ModelConfig {
  family?: string;
  name?: string;
  numClasses?: number;
  inChans?: number;
}

const families = new Map<string, (config: ModelConfig) => ImageClassifier>();

/** Adds the builder that turns a family's plain config into a model. */
export function registerFamily(family: string, build: (config: ModelConfig) => ImageClassifier): void {
  if (families.has(family)) throw new Error(`a model family named '${family}' is already registered`);
  families.set(family, build);
}

/** Builds a custom variant from a plain config (depths, widths, block type, groups, ...). */
export function createModelFromConfig(config: ModelConfig): ImageClassifier {
  const family = config.family ?? 'resnet';
  const build = families.get(family);
  if (!build) throw new Error(`unknown model family '${family}'; known families: ${[...families.keys()].join(', ')}`);
  return build(config);
}
