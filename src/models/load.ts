// The one path a checkpoint takes into a model, for the CLI, training and tools alike:
// DataParallel's 'module.' prefix dropped, the family's key filter (timm's
// pretrained_filter_fn, torchvision's DenseNet _load_state_dict), a 3-channel first
// convolution adapted to the model's inChans, a features-only model's classifier keys
// ignored, then Module.loadStateDict with its shape and key checks.
import type { StateDict } from '../io/types.js';
import type { LoadResult } from '../nn/module.js';
import { noGrad } from '../torch/runtime.js';
import { dispose, tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { ImageClassifier } from './classifier.js';
import { EmbeddingModel } from './embedding.js';
import { firstConvKeys } from './family.js';
import { FeatureListNet } from './features.js';
import { familyDefinition } from './registry.js';

export interface LoadCheckpointOptions {
  /** Missing and unexpected keys are errors (default true). */
  strict?: boolean;
  /** Where the dict came from (a file name), for messages. */
  source?: string;
}

/**
 * timm's adapt_input_conv: a first-convolution weight [O, I, kh, kw] for `inChans`
 * inputs. From RGB (I = 3): summed over the channels for 1, else repeated and scaled
 * by 3 / inChans (so the output keeps its scale). Returns a new tensor.
 */
export function adaptInputConv(weight: Tensor, inChans: number): Tensor {
  const [out, inputs, kh, kw] = weight.shape;
  return tidy(() => {
    const w = weight.float();
    let adapted: Tensor;
    if (inChans === 1) {
      if (inputs > 3) {
        if (inputs % 3 !== 0) throw new Error(`adaptInputConv: cannot sum ${inputs} input channels into 1 (not a multiple of 3)`);
        adapted = w.reshape([out, inputs / 3, 3, kh, kw]).sum(2);
      } else {
        adapted = w.sum(1, { keepdim: true });
      }
    } else if (inputs !== 3) {
      throw new Error(`adaptInputConv: only a 3-channel first convolution can be adapted to ${inChans} channels, this one has ${inputs}`);
    } else {
      adapted = w.repeat([1, Math.ceil(inChans / 3), 1, 1]).slice(1, 0, inChans).mul(3 / inChans);
    }
    return adapted.to(weight.dtype).contiguous();
  });
}

type LoadTarget = ImageClassifier | FeatureListNet | EmbeddingModel;

const listSome = (keys: string[]): string => (keys.length <= 3 ? keys.join(', ') : `${keys.slice(0, 3).join(', ')} and ${keys.length - 3} more`);

/** The shape of every state-dict entry (stateDict() hands out views, freed here). */
function shapesOf(model: LoadTarget): Record<string, number[]> {
  const dict = model.stateDict();
  const shapes = Object.fromEntries(Object.entries(dict).map(([key, tensor]) => [key, tensor.shape]));
  dispose(dict);
  return shapes;
}

/** A one-line account of what keeps `dict` from loading into `model`, or undefined when it fits. */
function misfit(model: LoadTarget, dict: StateDict, strict: boolean): string | undefined {
  const own = shapesOf(model);
  const missing = Object.keys(own).filter((key) => !Object.hasOwn(dict, key));
  const unexpected = Object.keys(dict).filter((key) => !Object.hasOwn(own, key));
  const mismatched = Object.keys(own)
    .filter((key) => Object.hasOwn(dict, key) && dict[key].shape.join('x') !== own[key].join('x'))
    .map((key) => `${key} [${dict[key].shape.join(', ')}] vs [${own[key].join(', ')}]`);
  const problems: string[] = [];
  if (mismatched.length > 0) problems.push(`shape mismatches (checkpoint vs model): ${listSome(mismatched)}`);
  if (strict && missing.length > 0) problems.push(`missing keys: ${listSome(missing)}`);
  if (strict && unexpected.length > 0) problems.push(`unexpected keys: ${listSome(unexpected)}`);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/**
 * Loads `dict` into `model` through the steps above. The caller keeps owning `dict`;
 * the tensors made on the way (adapted convolutions) are freed here.
 */
export function loadCheckpoint(model: LoadTarget, dict: StateDict, options: LoadCheckpointOptions = {}): LoadResult {
  const strict = options.strict ?? true;
  const made: Tensor[] = [];
  try {
    let prepared = withoutDataParallelPrefix(dict);
    const classifier = model instanceof FeatureListNet ? model : null;
    const full = classifier ? null : (model as ImageClassifier | EmbeddingModel);
    const family = full ? familyDefinition(full.config.family) : null;
    if (family?.filterStateDict && full) prepared = family.filterStateDict(prepared, full);
    if (classifier) prepared = classifier.ownEntries(prepared);
    // A model built without a head (numClasses 0) takes a full checkpoint, its classifier's keys dropped.
    if (full instanceof ImageClassifier && full.numClasses === 0) {
      const head = `${full.pretrainedConfig.classifier}.`;
      prepared = Object.fromEntries(Object.entries(prepared).filter(([key]) => !key.startsWith(head)));
    }
    prepared = adaptFirstConv(model, prepared, made);
    const problem = misfit(model, prepared, strict);
    if (problem) {
      const from = options.source ? `'${options.source}'` : 'the checkpoint';
      throw new Error(`${from} does not fit ${model.name}: ${problem}`);
    }
    return noGrad(() => model.loadStateDict(prepared, { strict }));
  } finally {
    dispose(made);
  }
}

/** `dict` without the 'module.' that checkpoints saved from nn.DataParallel put before every key (the same tensors). */
export function withoutDataParallelPrefix(dict: StateDict): StateDict {
  const keys = Object.keys(dict);
  if (keys.length === 0 || !keys.every((key) => key.startsWith('module.'))) return dict;
  return Object.fromEntries(keys.map((key) => [key.slice('module.'.length), dict[key]]));
}

/**
 * Swaps in adapted weights for each convolution that reads the input (the pretrained
 * config's firstConv, one or several) where the checkpoint's takes another channel count.
 */
function adaptFirstConv(model: LoadTarget, dict: StateDict, made: Tensor[]): StateDict {
  // Embedding models take 3-channel face crops only.
  if (model instanceof EmbeddingModel) return dict;
  const keys = model instanceof FeatureListNet ? model.firstConvKeys : firstConvKeys(model.pretrainedConfig);
  const shapes = shapesOf(model);
  let adaptedDict = dict;
  for (const key of keys) {
    const source = Object.hasOwn(dict, key) ? dict[key] : undefined;
    const target = shapes[key];
    if (!source || !target || source.ndim !== 4 || source.shape[1] === target[1]) continue;
    const adapted = adaptInputConv(source, model.inChans);
    made.push(adapted);
    adaptedDict = { ...adaptedDict, [key]: adapted };
  }
  return adaptedDict;
}
