// SyncBatchNorm (torch.nn.SyncBatchNorm): in training, the batch statistics are those
// of the global batch of a data-parallel run, all ranks together, so a small per-rank
// batch normalises as the whole batch would (and N ranks of B/N match one process of B).
// The statistics travel over the distributed process group (native/distributed.cc);
// without one (or alone in it), and in eval mode, it is plain batch normalisation.
import { native } from '../native.js';
import { Tensor } from '../torch/tensor.js';
import { BatchNorm, type BatchNormOptions } from './batchnorm.js';
import type { Module } from './module.js';

export class SyncBatchNorm extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, [2, 3, 4, 5], options);
  }

  /** A SyncBatchNorm holding `bn`'s own parameters and buffers. */
  static from(bn: BatchNorm): SyncBatchNorm {
    const sync = new SyncBatchNorm(bn.numFeatures, { eps: bn.eps, momentum: bn.momentum, affine: bn.weight !== null, trackRunningStats: bn.runningMean !== null });
    sync.adoptState(bn);
    return sync;
  }

  protected override normalize(input: Tensor, momentum: number): Tensor {
    const group = native.distInfo();
    if (!this.training || group === null || group.worldSize === 1) return super.normalize(input, momentum);
    return new Tensor(
      native.syncBatchNorm(input.handle, this.weight?.handle, this.bias?.handle, this.runningMean?.handle, this.runningVar?.handle, momentum, this.eps),
    );
  }
}

/**
 * Replaces every BatchNorm below `module` by a SyncBatchNorm over the same tensors (the
 * state dict and any optimizer stay valid), as torch.nn.SyncBatchNorm.convert_sync_batchnorm;
 * returns how many were replaced.
 */
export function convertSyncBatchNorm(module: Module<never, unknown>): number {
  let replaced = 0;
  for (const [path, child] of [...module.namedModules()]) {
    if (path === '' || !(child instanceof BatchNorm) || child instanceof SyncBatchNorm) continue;
    module.setSubmodule(path, SyncBatchNorm.from(child));
    replaced++;
  }
  return replaced;
}
