// The thread count of a training run when none is given. libtorch's parallel ops wait for
// every thread at the end of each op; on tiny tensors that wait costs more than the
// second core gives back, and on a machine whose cores are busy with other work a
// thread that is not scheduled holds up every op (measured in bench/README.md: resnet20
// at 28x28, batch 128, trained 4 to 5 times slower with 2 threads than with 1 while
// other work kept the 2 cores busy).
import { availableParallelism, loadavg } from 'node:os';

/** Batches of fewer pixels (batch x height x width) than this count as tiny: one thread. */
export const TINY_BATCH_PIXELS = 16 * 32 * 32;

export interface ThreadChoice {
  threads: number;
  /** Why, for the run's log. */
  reason: string;
}

/**
 * One thread for tiny batches; otherwise the cores that other work leaves free, judged by
 * the one-minute load average before the run starts (at least one, at most every core).
 */
export function chooseTrainingThreads(batch: { batchSize: number; height: number; width: number }, machine = { cores: availableParallelism(), loadAverage: loadavg()[0] }): ThreadChoice {
  const pixels = batch.batchSize * batch.height * batch.width;
  if (pixels < TINY_BATCH_PIXELS) {
    return { threads: 1, reason: `batches of ${batch.batchSize}x${batch.height}x${batch.width} are too small to gain from more` };
  }
  const free = Math.max(1, Math.min(machine.cores, Math.ceil(machine.cores - machine.loadAverage)));
  const busy = `load average ${machine.loadAverage.toFixed(2)} on ${machine.cores} cores`;
  return { threads: free, reason: free === machine.cores ? `${busy}: every core is free` : `${busy}: ${free === 1 ? 'one core is' : `${free} cores are`} free` };
}
