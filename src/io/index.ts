// The `io` namespace: checkpoints in safetensors, torch.save and .npy formats.
import { extname } from 'node:path';
import { Tensor } from '../torch/tensor.js';
import { CheckpointError } from './errors.js';
import { loadMxnetParams, saveMxnetParams } from './mxnet-params.js';
import { loadNpy, saveNpy } from './npy.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';
import { stateDictEntries } from './shared.js';
import { takeStateDict } from './state-dict.js';
import { loadTorchFile, saveTorchFile } from './torchsave.js';
import type { StateDict } from './types.js';

export type { StateDict } from './types.js';
export { CheckpointError } from './errors.js';
export { writeFileAtomic } from './atomic.js';
export { stateDictFrom } from './state-dict.js';
export { decodeSafetensors, encodeSafetensors, loadSafetensors, loadSafetensorsMetadata, saveSafetensors, type Safetensors } from './safetensors.js';
export { decodeNpy, encodeNpy, loadNpy, saveNpy } from './npy.js';
export { attrNumbers, loadMxnetSymbol, parseMxnetSymbol, symbolPathFor, type MxnetNode, type MxnetSymbol } from './mxnet-symbol.js';
export { decodeMxnetParams, encodeMxnetParams, loadMxnetParams, saveMxnetParams } from './mxnet-params.js';
export { decodeTorchFile, encodeTorchFile, loadTorchFile, saveTorchFile } from './torchsave.js';

type Format = 'safetensors' | 'torch' | 'npy' | 'mxnet';

const formatByExtension: Record<string, Format> = {
  '.safetensors': 'safetensors',
  '.pth': 'torch',
  '.pt': 'torch',
  '.bin': 'torch',
  '.npy': 'npy',
  '.params': 'mxnet',
};

const formatNames: Record<Format, string> = { safetensors: 'safetensors', torch: 'torch.save', npy: '.npy', mxnet: 'MXNet .params' };

function formatOf(path: string): Format {
  const extension = extname(path).toLowerCase();
  const format = Object.prototype.hasOwnProperty.call(formatByExtension, extension) ? formatByExtension[extension] : undefined;
  if (!format) throw new CheckpointError(`${path}: unknown checkpoint extension '${extension}'; expected .safetensors, .pth, .pt, .bin (torch.save), .params (MXNet) or .npy`);
  return format;
}

/**
 * Loads a checkpoint, choosing the format by extension: `.safetensors`, `.pth`/`.pt`/`.bin`
 * (torch.save; a checkpoint wrapping its weights under `state_dict` or `model` is
 * unwrapped and its other tensors freed) and `.params` (MXNet's NDArray list, names kept
 * as stored: 'arg:conv0_weight', 'aux:bn0_moving_mean') give a StateDict; `.npy` gives one Tensor.
 * The types see the extension only in a literal path; for a `.npy` path held in a
 * plain `string`, call loadNpy.
 */
export function load(path: `${string}.npy`): Tensor;
export function load(path: string): StateDict;
export function load(path: string): StateDict | Tensor {
  switch (formatOf(path)) {
    case 'npy':
      return loadNpy(path);
    case 'safetensors':
      return loadSafetensors(path);
    case 'torch':
      return takeStateDict(loadTorchFile(path), path);
    case 'mxnet':
      return loadMxnetParams(path);
  }
}

/** Saves a StateDict (`.safetensors`, `.pth`/`.pt`/`.bin`, `.params`) or one Tensor (`.npy`), atomically. */
export function save(value: StateDict | Tensor, path: string): void {
  const format = formatOf(path);
  if (format === 'npy') {
    if (!(value instanceof Tensor)) throw new CheckpointError(`${path}: a .npy file holds one tensor; got a state dict (use .safetensors or .pth)`);
    return saveNpy(value, path);
  }
  if (value instanceof Tensor) throw new CheckpointError(`${path}: a ${formatNames[format]} checkpoint holds a state dict; got one tensor (wrap it: { name: tensor }, or use .npy)`);
  if (format === 'safetensors') return saveSafetensors(value, path);
  if (format === 'mxnet') return saveMxnetParams(value, path);
  // A Map is written as an OrderedDict, even when empty, as state_dict() returns.
  return saveTorchFile(new Map(stateDictEntries(value, path)), path);
}
