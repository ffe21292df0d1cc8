// Pretrained weights by name, as torchvision's Weights enums: each official checkpoint's
// file, address, SHA-256 prefix, classifier size and class names, preprocessing and
// reported accuracy. The torchvision table is generated from Debian's torchvision by
// scripts/torchvision_weights.py into assets/; other checkpoints register here too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../native.js';

export interface PretrainedTransforms {
  /** Side of the centre crop the model sees. */
  cropSize: number;
  /** The short side is resized to this before the crop. */
  resizeSize: number;
  interpolation: string;
  mean: number[];
  std: number[];
}

export interface PretrainedWeights {
  model: string;
  /** 'IMAGENET1K_V1', 'IMAGENET1K_V2', ... ('DEFAULT' names the one marked default). */
  tag: string;
  default: boolean;
  url: string;
  /** The file name in the cache. */
  file: string;
  /** The start (at least 8 hex digits) or the whole of the file's SHA-256. */
  sha256Prefix: string;
  numClasses: number;
  /** Class names in index order. */
  classes: readonly string[];
  transforms: PretrainedTransforms;
  /** Reported accuracy on the validation set, in percent. */
  metrics: Record<string, number>;
  numParams?: number;
  recipe?: string;
}

type TableEntry = Omit<PretrainedWeights, 'classes'> & { classes: string | string[] };

let imagenetClasses: readonly string[] | undefined;

/** ImageNet-1K's 1000 class names, as torchvision lists them (assets/imagenet-classes.json). */
export function imagenetClassNames(): readonly string[] {
  imagenetClasses ??= Object.freeze(JSON.parse(readFileSync(join(packageRoot, 'assets', 'imagenet-classes.json'), 'utf8')) as string[]);
  return imagenetClasses;
}

const registered: PretrainedWeights[] = [];
let torchvisionLoaded = false;

function table(): PretrainedWeights[] {
  if (!torchvisionLoaded) {
    torchvisionLoaded = true;
    const entries = JSON.parse(readFileSync(join(packageRoot, 'assets', 'torchvision-weights.json'), 'utf8')) as TableEntry[];
    for (const entry of entries) {
      registered.push(Object.freeze({ ...entry, classes: entry.classes === 'imagenet-1k' ? imagenetClassNames() : Object.freeze([...entry.classes]) }) as PretrainedWeights);
    }
  }
  return registered;
}

/** Adds a checkpoint to the table (a model's own pretrained weights, or a private mirror of one). */
export function registerPretrained(weights: PretrainedWeights): void {
  if (!/^[0-9a-f]{8,64}$/i.test(weights.sha256Prefix)) throw new Error(`registerPretrained: sha256Prefix must be 8 to 64 hex digits, got '${weights.sha256Prefix}'`);
  if (weights.classes.length !== weights.numClasses) throw new Error(`registerPretrained: ${weights.classes.length} class names for ${weights.numClasses} classes`);
  if (table().some((w) => w.model === weights.model && w.tag === weights.tag)) throw new Error(`pretrained weights ${weights.model} ${weights.tag} are already registered`);
  registered.push(Object.freeze({ ...weights }));
}

/** Every known checkpoint, or those of `model`, in table order. */
export function listPretrained(model?: string): PretrainedWeights[] {
  return table().filter((weights) => model === undefined || weights.model === model);
}

/** True when `tag` looks like a weights name ('IMAGENET1K_V2', 'DEFAULT') rather than a file. */
export function isWeightsTag(text: string): boolean {
  return /^[A-Z][A-Z0-9_]*$/.test(text);
}

/** The checkpoint `tag` of `model` ('DEFAULT' picks the default); an unknown one lists the known. */
export function getPretrained(model: string, tag: string): PretrainedWeights {
  const own = listPretrained(model);
  const found = tag === 'DEFAULT' ? own.find((weights) => weights.default) ?? own[0] : own.find((weights) => weights.tag === tag);
  if (found) return found;
  if (own.length === 0) throw new Error(`no pretrained weights are known for ${model} (resnets weights list shows every model that has some)`);
  throw new Error(`${model} has no weights named '${tag}'; known: ${own.map((w) => w.tag).join(', ')}, DEFAULT`);
}

/**
 * Where a checkpoint is fetched from: its own address, or the same file name under
 * $RESNETS_WEIGHTS_MIRROR (a local copy of the download folder, for machines without
 * internet access).
 */
export function downloadUrl(weights: PretrainedWeights): string {
  const mirror = process.env.RESNETS_WEIGHTS_MIRROR;
  if (!mirror) return weights.url;
  return `${mirror.replace(/\/+$/, '')}/${weights.file}`;
}
