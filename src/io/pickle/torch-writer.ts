// Pickles JS values the way torch.save pickles Python ones (protocol 2): tensors
// through torch._utils._rebuild_tensor_v2 with ('storage', torch.FloatStorage, key,
// 'cpu', numel) persistent ids, each tensor's values in a storage of its own.
import { Tensor } from '../../torch/tensor.js';
import { CheckpointError } from '../errors.js';
import { describe } from '../shared.js';
import { PickleBuilder } from './builder.js';
import { storageClassByDtype } from './storage-types.js';

export interface TorchPickle {
  pickle: Uint8Array;
  /** Storage bytes by key, in the order they were first referenced. */
  storages: { key: string; bytes: Uint8Array }[];
}

/** Python's pickler groups APPENDS and SETITEMS in batches of this many items. */
const BATCH = 1000;
const MAX_DEPTH = 1000;

function contiguousStrides(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= Math.max(shape[i], 1);
  }
  return strides;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A state dict: a non-empty object of tensors only; saved as an OrderedDict, like PyTorch's. */
function isTensorDict(value: Record<string, unknown>): boolean {
  const items = Object.values(value);
  return items.length > 0 && items.every((item) => item instanceof Tensor);
}

class TorchPickler {
  readonly out = new PickleBuilder();
  readonly storages: { key: string; bytes: Uint8Array }[] = [];
  #memoSize = 0;
  readonly #memoByName = new Map<string, number>();
  readonly #memoByTensor = new Map<Tensor, number>();
  readonly #open = new Set<object>();

  #memoize(): number {
    this.out.put(this.#memoSize);
    return this.#memoSize++;
  }
  /** A global or a repeated string, emitted once and fetched from the memo after. */
  #shared(key: string, emit: () => void): void {
    const index = this.#memoByName.get(key);
    if (index !== undefined) {
      this.out.get(index);
      return;
    }
    emit();
    this.#memoByName.set(key, this.#memoize());
  }
  #global(module: string, name: string): void {
    this.#shared(`global:${module}.${name}`, () => this.out.global(module, name));
  }
  #sharedString(value: string): void {
    this.#shared(`string:${value}`, () => this.out.string(value));
  }
  #emptyOrderedDict(): void {
    this.#global('collections', 'OrderedDict');
    this.out.emptyTuple().reduce();
  }

  value(value: unknown, path: string, depth: number): void {
    if (depth > MAX_DEPTH) throw new CheckpointError(`torch.save: ${path} nests more than ${MAX_DEPTH} levels deep`);
    if (value === null) return void this.out.none();
    switch (typeof value) {
      case 'boolean':
        return void this.out.bool(value);
      case 'number':
        return void (Number.isSafeInteger(value) && !Object.is(value, -0) ? this.out.int(value) : this.out.float(value));
      case 'bigint':
        return void this.out.int(value);
      case 'string':
        return void this.out.string(value);
      case 'object':
        break;
      default:
        throw new CheckpointError(`torch.save: cannot save ${describe(value)} at ${path}`);
    }
    if (value instanceof Tensor) return this.#tensor(value, path);
    if (this.#open.has(value)) throw new CheckpointError(`torch.save: ${path} contains itself`);
    this.#open.add(value);
    if (Array.isArray(value)) this.#sequence(value, path, depth);
    else if (value instanceof Map) this.#dict([...value.entries()], path, depth, true);
    else if (isPlainObject(value)) this.#dict(Object.entries(value), path, depth, isTensorDict(value));
    else throw new CheckpointError(`torch.save: cannot save a ${value.constructor?.name ?? 'object'} at ${path}; use tensors, numbers, strings, booleans, null, arrays, Maps and plain objects`);
    this.#open.delete(value);
  }

  #sequence(items: readonly unknown[], path: string, depth: number): void {
    if (Object.isFrozen(items)) {
      if (items.length > 3) this.out.mark();
      items.forEach((item, i) => this.value(item, `${path}[${i}]`, depth + 1));
      this.out.tuple(items.length);
      return;
    }
    this.out.emptyList();
    this.#memoize();
    for (let start = 0; start < items.length; start += BATCH) {
      this.out.mark();
      for (let i = start; i < Math.min(start + BATCH, items.length); i++) this.value(items[i], `${path}[${i}]`, depth + 1);
      this.out.appends();
    }
  }

  #dict(entries: [unknown, unknown][], path: string, depth: number, ordered: boolean): void {
    if (ordered) this.#emptyOrderedDict();
    else this.out.emptyDict();
    this.#memoize();
    for (let start = 0; start < entries.length; start += BATCH) {
      this.out.mark();
      for (const [key, item] of entries.slice(start, start + BATCH)) {
        const where = `${path}.${String(key)}`;
        this.value(key, where, depth + 1);
        this.value(item, where, depth + 1);
      }
      this.out.setitems();
    }
  }

  #tensor(tensor: Tensor, path: string): void {
    const known = this.#memoByTensor.get(tensor);
    if (known !== undefined) return void this.out.get(known);
    if (tensor.isDisposed) throw new CheckpointError(`torch.save: the tensor at ${path} has been disposed`);
    const key = String(this.storages.length);
    // toBytes() gives the values in C order on the CPU, so every storage is contiguous.
    this.storages.push({ key, bytes: tensor.toBytes() });
    const shape = tensor.shape;
    this.#global('torch._utils', '_rebuild_tensor_v2');
    this.out.mark();
    this.out.mark();
    this.#sharedString('storage');
    this.#global('torch', storageClassByDtype[tensor.dtype]);
    this.out.string(key);
    this.#sharedString('cpu');
    this.out.int(tensor.numel);
    this.out.tuple(5).persid();
    this.out.int(0);
    this.#intTuple(shape);
    this.#intTuple(contiguousStrides(shape));
    // Saved detached, as state_dict() does: requires_grad False, no hooks.
    this.out.bool(false);
    this.#emptyOrderedDict();
    this.out.tuple(6).reduce();
    this.#memoByTensor.set(tensor, this.#memoize());
  }

  #intTuple(values: number[]): void {
    if (values.length > 3) this.out.mark();
    for (const value of values) this.out.int(value);
    this.out.tuple(values.length);
  }
}

/**
 * Pickles `value` for a torch.save archive. Maps, and plain objects whose values are
 * all tensors, become OrderedDicts (as state_dict() returns); other plain objects
 * dicts; frozen arrays tuples; other arrays lists; integers ints; other numbers floats.
 */
export function pickleForTorchSave(value: unknown): TorchPickle {
  const pickler = new TorchPickler();
  pickler.out.proto(2);
  pickler.value(value, 'value', 0);
  pickler.out.stop();
  return { pickle: pickler.out.finish(), storages: pickler.storages };
}
