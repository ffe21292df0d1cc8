// train.distributed: multi-process data-parallel training on libtorch's c10d (Gloo).
export {
  init,
  destroy,
  isInitialized,
  processGroup,
  getRank,
  getWorldSize,
  allReduce,
  allReduceSync,
  broadcast,
  barrier,
  resolveInitOptions,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_MASTER_PORT,
  type Backend,
  type InitOptions,
  type ProcessGroupInfo,
  type ReduceOp,
} from './process-group.js';
export { DistributedDataParallel, type DistributedDataParallelOptions } from './ddp.js';
export { describeFailure, isCommunicationFailure, RankFailureError } from './failure.js';
export { DataParallelRun, checkResumeWorldSize, type DataParallelOptions } from './run.js';
export { sumOverRanks, combineEvaluation } from './rank-sync.js';
export { SyncBatchNorm, convertSyncBatchNorm } from '../../nn/sync-batchnorm.js';
export { shardIndices, shardLength, type Shard } from '../../data/distributed-sampler.js';
