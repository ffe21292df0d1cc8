// The allow-list that makes unpickling a torch.save file safe, as
// torch.load(weights_only=True): only OrderedDict, the two tensor rebuild functions
// and the storage types may be named; storages come from the archive's entries.
import { isFloatingPoint, type DType } from '../../torch/dtype.js';
import { Tensor } from '../../torch/tensor.js';
import { isCount } from '../shared.js';
import { dtypeByStorageClass } from './storage-types.js';
import { isTuple, PickleCallable, PickleInternal, type UnpickleHooks } from './vm.js';

/** A `torch.FloatStorage`-style class: only ever a tag inside a persistent id. */
class StorageType extends PickleInternal {
  constructor(
    readonly fullName: string,
    readonly dtype: DType,
  ) {
    super();
  }
}

/** A storage loaded from the archive, as a 1-D tensor of `numel` elements. */
class Storage extends PickleInternal {
  constructor(
    readonly fullName: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly data: Tensor,
  ) {
    super();
  }
}

/** Reads storage `key` of `numel` elements from the archive as a 1-D tensor. */
export type StorageReader = (key: string, dtype: DType, numel: number) => Tensor;

const ALLOWED = 'collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the torch.*Storage types';

function checkCounts(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isCount)) throw new Error(`${what} must be a tuple of non-negative integers, got ${JSON.stringify(value)}`);
  return value as number[];
}

function rebuildTensor(args: readonly unknown[]): Tensor {
  if (args.length !== 6 && args.length !== 7) throw new Error(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
  const [storage, offset, sizeArg, strideArg, requiresGrad] = args;
  if (!(storage instanceof Storage)) throw new Error('_rebuild_tensor_v2: the first argument is not a storage');
  if (!isCount(offset)) throw new Error(`_rebuild_tensor_v2: storage offset ${String(offset)} is not a non-negative integer`);
  const size = checkCounts(sizeArg, '_rebuild_tensor_v2: size');
  const stride = checkCounts(strideArg, '_rebuild_tensor_v2: stride');
  if (size.length !== stride.length) throw new Error(`_rebuild_tensor_v2: size [${size.join(', ')}] and stride [${stride.join(', ')}] differ in length`);
  if (typeof requiresGrad !== 'boolean') throw new Error('_rebuild_tensor_v2: requires_grad is not a bool');
  // The last element the view touches must lie inside the storage.
  const empty = size.some((dim) => dim === 0);
  const last = empty ? offset - 1 : size.reduce((sum, dim, i) => sum + (dim - 1) * stride[i], offset);
  if (last >= storage.numel || offset > storage.numel) {
    throw new Error(`tensor of size [${size.join(', ')}], stride [${stride.join(', ')}] at offset ${offset} reaches element ${last} of a storage of ${storage.numel} elements`);
  }
  const tensor = storage.data.asStrided(size, stride, offset);
  if (requiresGrad) setRequiresGrad(tensor);
  return tensor;
}

function setRequiresGrad(tensor: Tensor): void {
  if (!isFloatingPoint(tensor.dtype)) throw new Error(`a ${tensor.dtype} tensor cannot require gradients`);
  tensor.requiresGrad_(true);
}

function rebuildParameter(args: readonly unknown[]): Tensor {
  if (args.length !== 3) throw new Error(`_rebuild_parameter takes 3 arguments, got ${args.length}`);
  const [data, requiresGrad] = args;
  if (!(data instanceof Tensor)) throw new Error('_rebuild_parameter: the data is not a tensor');
  if (typeof requiresGrad !== 'boolean') throw new Error('_rebuild_parameter: requires_grad is not a bool');
  if (requiresGrad) setRequiresGrad(data);
  return data;
}

/** The hooks that unpickle a torch.save data.pkl, reading storages through `readStorage`. */
export function torchUnpickleHooks(readStorage: StorageReader): UnpickleHooks {
  const orderedDicts = new WeakSet<object>();
  const storages = new Map<string, Storage>();

  const orderedDict = new PickleCallable('collections.OrderedDict', (args) => {
    const dict = new Map<unknown, unknown>();
    orderedDicts.add(dict);
    if (args.length === 0) return dict;
    const [pairs] = args;
    if (args.length !== 1 || !Array.isArray(pairs)) throw new Error('OrderedDict takes one list of pairs');
    for (const pair of pairs) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new Error('OrderedDict takes (key, value) pairs');
      dict.set(pair[0], pair[1]);
    }
    return dict;
  });
  const globals = new Map<string, unknown>([
    ['collections.OrderedDict', orderedDict],
    ['torch._utils._rebuild_tensor_v2', new PickleCallable('torch._utils._rebuild_tensor_v2', rebuildTensor)],
    ['torch._utils._rebuild_parameter', new PickleCallable('torch._utils._rebuild_parameter', rebuildParameter)],
  ]);
  for (const [name, dtype] of dtypeByStorageClass) globals.set(`torch.${name}`, new StorageType(`torch.${name}`, dtype));

  return {
    findGlobal(module, name) {
      const fullName = `${module}.${name}`;
      const value = globals.get(fullName);
      if (value !== undefined) return value;
      if (module === 'torch' && name.endsWith('Storage')) throw new Error(`storage type ${fullName} is not supported (supported: ${[...dtypeByStorageClass.keys()].join(', ')})`);
      // A class of the user's code usually means torch.save(model) rather than torch.save(model.state_dict()).
      const wholeModel = !/^[A-Z]/.test(name) || module === 'torch' ? '' : `; if the file holds a whole pickled model (torch.save(model)), save its weights with torch.save(model.state_dict(), path)`;
      throw new Error(`global '${fullName}' is not allowed; a checkpoint may only reference ${ALLOWED}${wholeModel}`);
    },
    persistentLoad(pid) {
      if (!isTuple(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new Error(`persistent id ${describePid(pid)} is not a ('storage', type, key, location, size) tuple`);
      const [, type, key, location, numel] = pid;
      if (!(type instanceof StorageType)) throw new Error('persistent id does not name a storage type');
      if (typeof key !== 'string' || typeof location !== 'string') throw new Error('persistent id key and location must be strings');
      if (!isCount(numel)) throw new Error(`storage '${key}' has size ${String(numel)}, not a non-negative integer`);
      const known = storages.get(key);
      if (known) {
        if (known.dtype !== type.dtype || known.numel !== numel) throw new Error(`storage '${key}' is referenced as both ${known.fullName}(${known.numel}) and ${type.fullName}(${numel})`);
        return known;
      }
      const storage = new Storage(type.fullName, type.dtype, numel, readStorage(key, type.dtype, numel));
      storages.set(key, storage);
      return storage;
    },
    build(target, state) {
      if (!orderedDicts.has(target as object)) throw new Error('BUILD is only allowed on an OrderedDict');
      // OrderedDict attributes (state_dict's `_metadata` version table) carry no tensors; dropped.
      if (state !== null && !(state instanceof Map)) throw new Error('BUILD state of an OrderedDict must be a dict');
    },
  };
}

function describePid(pid: unknown): string {
  return Array.isArray(pid) ? `of ${pid.length} items` : typeof pid === 'string' ? JSON.stringify(pid) : `of type ${typeof pid}`;
}
