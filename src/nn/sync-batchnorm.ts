// SyncBatchNorm (torch.nn.SyncBatchNorm): in training, the batch statistics are those
// of the global batch of a data-parallel run, all ranks together, so a small per-rank
// batch normalises as the whole batch would (and N ranks of B/N match one process of B).
// Without a process group (or alone in it), and in eval mode, it is plain batch norm.
import { BatchNorm, type BatchNormOptions } from './batchnorm.js';
import type { Module } from './module.js';

export class SyncBatchNorm extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, [2, 3, 4, 5], options);
    this.syncStatistics = true;
  }
}

/**
 * Synchronises every batch normalisation below `module` (any kind: BatchNorm2d, the
 * fused BatchNormAct2d, ...), as torch.nn.SyncBatchNorm.convert_sync_batchnorm, but in
 * place: the modules, their tensors and the state dict stay as they are. Returns how many.
 */
export function convertSyncBatchNorm(module: Module<never, unknown>): number {
  let converted = 0;
  for (const [, child] of module.namedModules()) {
    if (!(child instanceof BatchNorm) || child.syncStatistics) continue;
    child.syncStatistics = true;
    converted++;
  }
  return converted;
}
