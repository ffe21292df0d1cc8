// Which samples each rank of a data-parallel run reads: the contract of PyTorch's
// DistributedSampler. The epoch's order (seeded per epoch, identical on every rank) is
// padded by repeating its start until it divides evenly, then rank r takes the samples at
// positions r, r + R, r + 2R, ... So every sample is read once per epoch across the R
// ranks (a few twice, to pad), and with a per-rank batch of B / R the ranks' batch k
// together hold exactly the samples of batch k of a single process with batch B.

export interface Shard {
  /** How many ranks share the data (the world size). */
  numReplicas: number;
  /** This rank, in [0, numReplicas). */
  rank: number;
  /**
   * Pad to equal shards (default, as DistributedSampler with drop_last=False). false:
   * shards of exactly the data, one sample shorter on the last ranks, for evaluation
   * whose sums are combined across ranks and must count every sample once.
   */
  pad?: boolean;
}

export function checkShard(shard: Shard): void {
  const { numReplicas, rank } = shard;
  if (!Number.isInteger(numReplicas) || numReplicas < 1) throw new Error(`shard: numReplicas must be a positive integer, got ${numReplicas}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= numReplicas) throw new Error(`shard: rank must be an integer in [0, ${numReplicas - 1}], got ${rank}`);
}

/** The number of samples a rank reads per epoch from `length` samples. */
export function shardLength(length: number, shard: Shard): number {
  if (shard.pad ?? true) return Math.ceil(length / shard.numReplicas);
  return Math.max(0, Math.ceil((length - shard.rank) / shard.numReplicas));
}

/** This rank's samples, in order, from the epoch's full order. */
export function shardIndices(order: readonly number[], shard: Shard): number[] {
  checkShard(shard);
  const padded = order.slice();
  if ((shard.pad ?? true) && padded.length > 0) {
    const total = Math.ceil(order.length / shard.numReplicas) * shard.numReplicas;
    // DistributedSampler repeats the list from its start (several times when it is shorter than the padding).
    for (let i = 0; padded.length < total; i++) padded.push(order[i % order.length]);
  }
  const mine: number[] = [];
  for (let i = shard.rank; i < padded.length; i += shard.numReplicas) mine.push(padded[i]);
  return mine;
}
