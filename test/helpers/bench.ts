// Checks shared by the benchmark-peer tests.
import assert from 'node:assert/strict';
import type { ComparedResult } from '../../src/tools/bench-compare.js';

/** `runs` timed runs on each side, the peer at `threads` threads, and the ratio their images/s give. */
export function assertComparedRuns(compared: ComparedResult, runs: number, threads: number): void {
  assert.equal(compared.resnets.timesMs.length, runs);
  assert.equal(compared.peer.timesMs.length, runs);
  assert.equal(compared.peer.threads, threads);
  assert.ok(Math.abs(compared.ratio - compared.resnets.imagesPerSecond / compared.peer.imagesPerSecond) < 1e-12);
}
