// What a rank says when a collective fails: which rank left. Gloo reports a closed
// connection or a timeout with socket addresses only, so the surviving ranks check in
// at the rendezvous store (a roll call) and name the ranks that never do.
import { native } from '../../native.js';
import { processGroup, isInitialized } from './process-group.js';

/** One or more ranks stopped taking part: they died, hung, or lost the network. */
export class RankFailureError extends Error {
  constructor(
    /** The ranks that did not answer the roll call (empty: not known). */
    readonly ranks: number[],
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'RankFailureError';
  }
}

/** Messages of a collective or store that lost a peer (Gloo's TCP pair, the TCPStore client). */
export function isCommunicationFailure(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /gloo|connection|peer|timed out|timeout|socket|broken pipe|store/i.test(message);
}

const listRanks = (ranks: number[]) => (ranks.length === 1 ? `rank ${ranks[0]}` : `ranks ${ranks.join(', ')}`);

/**
 * Turns a failed collective into a RankFailureError naming the ranks that left; other
 * errors come back as they are. Waits up to `windowMs` (default the smaller of 3 s and the
 * group's timeout) for the surviving ranks to check in.
 */
export async function describeFailure(error: unknown, options: { windowMs?: number } = {}): Promise<unknown> {
  if (!isInitialized() || !isCommunicationFailure(error)) return error;
  const group = processGroup();
  const windowMs = options.windowMs ?? Math.min(3000, group.timeoutMs);
  const detail = (error as Error).message.split('\n')[0];
  // The roll call blocks this thread for at most windowMs: the run is stopping anyway.
  const answer = native.distRollCall('failure', windowMs);
  if ('storeError' in answer) {
    if (group.rank === 0) return new RankFailureError([], `rank 0: a collective failed (${detail}) and the rendezvous store could not be read: ${answer.storeError}`, error);
    return new RankFailureError(
      [0],
      `rank ${group.rank}: rank 0 (which serves the rendezvous store at ${group.masterAddr}:${group.masterPort}) is unreachable; the run stops (${detail})`,
      error,
    );
  }
  // Rank 0 serves the store: it stays a moment longer, so ranks still checking in can read it.
  if (group.rank === 0 && answer.missing.length > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
  if (answer.missing.length === 0) return new RankFailureError([], `rank ${group.rank}: a collective failed though every rank is still present: ${detail}`, error);
  const gone = listRanks(answer.missing);
  return new RankFailureError(answer.missing, `rank ${group.rank}: ${gone} stopped responding (exited, hung or unreachable); the run stops (${detail})`, error);
}
