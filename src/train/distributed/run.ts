// A training run as one rank of a data-parallel group: what the session changes for it.
// The global batch is split over the ranks (so the recipe, the learning rate and the
// result do not depend on how many processes train it), each rank reads its shard of
// the data, the model is wrapped in DistributedDataParallel (and optionally its batch
// normalisation synchronised), only rank 0 writes, and a run resumes at its world size.
import type { Shard } from '../../data/distributed-sampler.js';
import type { Module } from '../../nn/module.js';
import { convertSyncBatchNorm } from '../../nn/sync-batchnorm.js';
import type { TrainingState } from '../checkpoint.js';
import { DistributedDataParallel } from './ddp.js';
import { processGroup } from './process-group.js';
import { rankSync } from './rank-sync.js';

export interface DataParallelOptions {
  /** Batch statistics over the global batch (SyncBatchNorm). */
  syncBatchNorm?: boolean;
  /** DistributedDataParallel's bucket size in MiB (default 25). */
  bucketCapMb?: number;
}

export class DataParallelRun {
  readonly rank: number;
  readonly worldSize: number;
  readonly ranks = rankSync;

  constructor(readonly options: DataParallelOptions = {}) {
    const group = processGroup();
    this.rank = group.rank;
    this.worldSize = group.worldSize;
  }

  /** Only rank 0 writes checkpoints, metrics and the progress display. */
  get isWriter(): boolean {
    return this.rank === 0;
  }

  /** Each rank's share of the global batch. */
  perRankBatchSize(globalBatch: number): number {
    return perRankBatchSize(globalBatch, this.worldSize);
  }

  /** The training shard: padded to equal lengths (every rank takes as many steps). */
  get trainShard(): Shard {
    return { numReplicas: this.worldSize, rank: this.rank };
  }

  /** The evaluation shard: every test sample once over all ranks. */
  get testShard(): Shard {
    return { numReplicas: this.worldSize, rank: this.rank, pad: false };
  }

  /** Before the optimizer is made: synchronised batch normalisation when asked for. Returns the layers converted. */
  prepareModel(model: Module<never, unknown>): number {
    return this.options.syncBatchNorm ? convertSyncBatchNorm(model) : 0;
  }

  /** The module the training step calls. */
  wrap<In, Out>(model: Module<In, Out>): DistributedDataParallel<In, Out> {
    return new DistributedDataParallel(model, { bucketCapMb: this.options.bucketCapMb });
  }

}

/** A run resumes at the world size it was trained at (1 for a single process): its step count and data shards depend on it. */
export function checkResumeWorldSize(state: TrainingState, worldSize: number, runPath: string): void {
  const saved = state.worldSize ?? 1;
  if (saved !== worldSize) {
    const how = saved === 1 ? 'without --nproc' : `--nproc ${saved}`;
    throw new Error(`${runPath} was trained by ${saved} process${saved === 1 ? '' : 'es'}; resume it at the same world size (${how}), not ${worldSize}`);
  }
}

/** Each of `worldSize` ranks' share of the global batch; the batch must divide evenly. */
export function perRankBatchSize(globalBatch: number, worldSize: number): number {
  if (globalBatch % worldSize !== 0) {
    throw new Error(`--batch-size ${globalBatch} is the global batch and must divide evenly over the ${worldSize} ranks; pick a multiple of ${worldSize}`);
  }
  return globalBatch / worldSize;
}
