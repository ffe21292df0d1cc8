// The training loop's agreement between ranks (loop.ts RankSync) over the process group:
// small float64 all-reduces of the step's figures (loss sum, correct, images, stop votes)
// and of the evaluation sums (with the confusion matrix), waited on this thread, as the
// step itself is synchronous.
import { tensor } from '../../torch/creation.js';
import type { EvalResult } from '../evaluate.js';
import type { RankSync } from '../loop.js';
import { ConfusionMatrix } from '../metrics.js';
import { allReduceSync, getWorldSize } from './process-group.js';

export function sumOverRanks(values: number[]): number[] {
  const packed = tensor(new Float64Array(values));
  try {
    allReduceSync(packed, 'sum');
    return Array.from(packed.toTypedArray() as Float64Array);
  } finally {
    packed.dispose();
  }
}

/** Each rank evaluated its shard of the test set (no padding): the whole set's figures. */
export function combineEvaluation(result: EvalResult): EvalResult {
  const { count, confusion } = result;
  const n = confusion.numClasses;
  const hits1 = Math.round(result.top1 * count);
  const hits5 = Math.round((result.top5 ?? 0) * count);
  const summed = sumOverRanks([result.loss * count, hits1, hits5, count, result.seconds, ...confusion.counts.flat()]);
  const [lossSum, top1, top5, total, seconds] = summed;
  const combined = new ConfusionMatrix(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) combined.counts[i][j] = summed[5 + i * n + j];
  return {
    loss: lossSum / total,
    top1: top1 / total,
    top5: result.top5 === undefined ? undefined : top5 / total,
    count: total,
    confusion: combined,
    // The ranks evaluate side by side: the wall time is about one rank's.
    seconds: seconds / getWorldSize(),
  };
}

export const rankSync: RankSync = { sum: sumOverRanks, combineEvaluation };
