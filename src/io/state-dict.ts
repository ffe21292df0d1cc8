// Finding the state dict inside a loaded checkpoint.
import { dispose } from '../torch/scope.js';
import { Tensor } from '../torch/tensor.js';
import { CheckpointError } from './errors.js';
import { describe, setOwn } from './shared.js';
import type { StateDict } from './types.js';

/** Keys under which training scripts commonly nest the weights. */
const WRAPPER_KEYS = ['state_dict', 'model'];

function entriesOf(value: unknown): [unknown, unknown][] | undefined {
  if (value instanceof Map) return [...value.entries()];
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Tensor)) return Object.entries(value);
  return undefined;
}

function asStateDict(value: unknown): StateDict | undefined {
  const entries = entriesOf(value);
  if (!entries || !entries.every(([key, item]) => typeof key === 'string' && item instanceof Tensor)) return undefined;
  const dict: StateDict = {};
  for (const [key, item] of entries) setOwn(dict, key as string, item as Tensor);
  return dict;
}

function firstProblem(value: unknown): string {
  const entries = entriesOf(value);
  if (!entries) return `the checkpoint is ${describe(value)}`;
  const bad = entries.find(([key, item]) => typeof key !== 'string' || !(item instanceof Tensor));
  if (!bad) return '';
  if (typeof bad[0] !== 'string') {
    const kind = typeof bad[0] === 'number' || typeof bad[0] === 'bigint' ? 'an integer' : describe(bad[0]);
    return `key ${String(bad[0])} is ${kind}, not a string (state dict keys are parameter names)`;
  }
  return `'${bad[0]}' is ${describe(bad[1])}`;
}

/**
 * The state dict in a loaded checkpoint: the value itself when it is a dict of
 * tensors, or the dict of tensors under its `state_dict` or `model` key.
 */
export function stateDictFrom(value: unknown, source = 'checkpoint'): StateDict {
  const direct = asStateDict(value);
  if (direct) return direct;
  const entries = entriesOf(value) ?? [];
  for (const wrapper of WRAPPER_KEYS) {
    const inner = entries.find(([key]) => key === wrapper);
    const dict = inner && asStateDict(inner[1]);
    if (dict) return dict;
  }
  const keys = entries.map(([key]) => String(key));
  throw new CheckpointError(
    `${source}: no state dict found: expected a dict of tensors, or one under ${WRAPPER_KEYS.map((k) => `'${k}'`).join(' or ')}` +
      ` (${firstProblem(value)}${keys.length ? `; top-level keys: ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''}` : ''})`,
  );
}

/** stateDictFrom, disposing every other tensor of the checkpoint (optimizer state and such). */
export function takeStateDict(value: unknown, source: string): StateDict {
  const all: Tensor[] = [];
  collectTensors(value, all, new Set());
  let dict: StateDict;
  try {
    dict = stateDictFrom(value, source);
  } catch (error) {
    dispose(all);
    throw error;
  }
  const kept = new Set(Object.values(dict));
  dispose(all.filter((tensor) => !kept.has(tensor)));
  return dict;
}

function collectTensors(value: unknown, into: Tensor[], seen: Set<unknown>): void {
  if (value instanceof Tensor) {
    into.push(value);
    return;
  }
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  const items = value instanceof Map ? [...value.keys(), ...value.values()] : Array.isArray(value) ? value : Object.values(value);
  for (const item of items) collectTensors(item, into, seen);
}
