// Starting from a checkpoint, as torchvision and timm users fine-tune: read a state dict
// from a file, load it into a model built for the new data with the classifier left as
// built when its class count differs (said in one line), and optionally freeze everything
// but the classifier so only the head trains.
import { existsSync, statSync } from 'node:fs';
import * as io from '../io/index.js';
import type { StateDict } from '../io/types.js';
import { Linear } from '../nn/linear.js';
import { describeMismatch, type Module } from '../nn/module.js';
import { dispose } from '../torch/scope.js';
import { Tensor } from '../torch/tensor.js';
import { withDefaultDevice } from '../torch/creation.js';
import { createModel } from '../models/index.js';

type AnyModule = Module<never, unknown>;

/** Reads a state dict from a .pth/.pt/.safetensors file; a bare tensor file is refused. */
export function readCheckpoint(file: string): StateDict {
  if (!existsSync(file)) throw new Error(`weights file '${file}' does not exist`);
  if (!statSync(file).isFile()) throw new Error(`weights file '${file}' is not a file`);
  const loaded = io.load(file) as unknown;
  if (loaded instanceof Tensor) {
    loaded.dispose();
    throw new Error(`'${file}' holds a single tensor, not a state dict of weights`);
  }
  const dict = loaded as StateDict;
  const keys = Object.keys(dict);
  // Checkpoints saved from nn.DataParallel prefix every key with 'module.'.
  if (keys.length > 0 && keys.every((key) => key.startsWith('module.'))) {
    return Object.fromEntries(keys.map((key) => [key.slice('module.'.length), dict[key]]));
  }
  return dict;
}

/** The module path of the classifier: the model's last Linear layer ('fc'), if any. */
export function classifierPath(model: AnyModule): string | undefined {
  let found: string | undefined;
  for (const [path, module] of model.namedModules()) if (module instanceof Linear) found = path;
  return found;
}

/** The state-dict key of the classifier's weight ('fc.weight'). */
export function classifierWeightKey(model: AnyModule): string | undefined {
  const path = classifierPath(model);
  return path === undefined ? undefined : `${path}.weight`;
}

/**
 * The class count of a checkpoint for model `name`, read from the rows of its classifier
 * weight ([classes, features]); undefined for a model without a classifier.
 */
export function checkpointClassCount(name: string, dict: StateDict, source: string): number | undefined {
  const probe = withDefaultDevice('meta', () => createModel(name, { init: false }));
  const key = classifierWeightKey(probe);
  probe.dispose();
  if (key === undefined) return undefined;
  const weight = Object.hasOwn(dict, key) ? dict[key] : undefined;
  if (!weight) throw new Error(`'${source}' has no '${key}' entry to read the number of classes from; give the class count (--num-classes)`);
  if (weight.ndim !== 2) throw new Error(`'${source}': '${key}' has shape [${weight.shape.join(', ')}], expected [classes, features]`);
  return weight.shape[0];
}

const listSome = (items: string[]): string => (items.length <= 3 ? items.join(', ') : `${items.slice(0, 3).join(', ')} and ${items.length - 3} more`);

/**
 * Loads `dict` into `model` (built for the new class count). Every key must fit except
 * the classifier's, which keeps its fresh initialisation when its shape differs. Returns
 * the lines to show the user; throws, naming the keys, when the checkpoint is of another
 * architecture. `dict` stays the caller's.
 */
export function loadPretrained(model: AnyModule, dict: StateDict, source: string): string[] {
  const head = classifierPath(model);
  const inHead = (key: string) => head !== undefined && key.startsWith(`${head}.`);
  const result = model.loadStateDict(dict, { strict: false });
  const problems: string[] = [];
  const foreign = result.mismatchedKeys.filter((m) => !inHead(m.key));
  if (foreign.length > 0) problems.push(`shape mismatches: ${listSome(foreign.map(describeMismatch))}`);
  if (result.missingKeys.length > 0) problems.push(`missing keys: ${listSome(result.missingKeys)}`);
  if (result.unexpectedKeys.length > 0) problems.push(`unexpected keys: ${listSome(result.unexpectedKeys)}`);
  if (problems.length > 0) throw new Error(`'${source}' does not fit this model (is it a checkpoint of another architecture?): ${problems.join('; ')}`);
  const reset = result.mismatchedKeys.filter((m) => inHead(m.key));
  if (reset.length === 0) return [`weights loaded from ${source}`];
  const weight = reset.find((m) => m.key === `${head}.weight`) ?? reset[0];
  return [
    `weights loaded from ${source}; classifier '${head}' re-initialised: the checkpoint's has ${weight.checkpoint[0]} classes, this model ${weight.model[0]}`,
  ];
}

/**
 * Freezes every parameter outside the classifier (requiresGrad false), so an optimizer
 * built afterwards trains the head only, as torchvision's feature-extraction recipe.
 * BatchNorm statistics still follow the data in training mode. Returns the count of frozen
 * parameter elements.
 */
export function freezeAllButClassifier(model: AnyModule): number {
  const head = classifierPath(model);
  if (head === undefined) throw new Error('--freeze: the model has no classifier (Linear layer) to train on its own');
  let frozen = 0;
  for (const [key, parameter] of model.namedParameters()) {
    if (key.startsWith(`${head}.`)) continue;
    parameter.requiresGrad = false;
    frozen += parameter.numel;
  }
  return frozen;
}

/** readCheckpoint + loadPretrained, freeing the file's tensors. */
export function loadPretrainedFile(model: AnyModule, file: string): string[] {
  const dict = readCheckpoint(file);
  try {
    return loadPretrained(model, dict, file);
  } finally {
    dispose(dict);
  }
}
