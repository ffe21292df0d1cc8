// Splitting a chain of units into checkpointed segments, as timm's checkpoint_seq.
import type { Module } from '../nn/module.js';
import { checkpointOne } from '../torch/checkpoint.js';
import type { Tensor } from '../torch/tensor.js';
import { runChain, Stage } from './layers.js';

/** `units` split into `segments` contiguous runs of near-equal length (the first ones longer). */
export function splitIntoSegments<T>(units: T[], segments: number): T[][] {
  const count = Math.min(segments, units.length);
  const runs: T[][] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const length = Math.floor(units.length / count) + (i < units.length % count ? 1 : 0);
    runs.push(units.slice(start, start + length));
    start += length;
  }
  return runs;
}

/**
 * A unit of checkpointing: a module, or modules that must share a segment (a stem whose
 * in-place ReLU would otherwise overwrite the input a segment keeps).
 */
export type CheckpointUnit = Module | Module[];

/**
 * The units a trunk is checkpointed by: each block of a residual stage, each composite
 * step (a dense block, a transition), and runs of plain layers (a stem's conv, norm,
 * in-place ReLU and pooling) kept together, so no segment's input is overwritten in place.
 */
export function trunkUnits(steps: Module[]): CheckpointUnit[] {
  const units: CheckpointUnit[] = [];
  let plain: Module[] = [];
  const flush = () => {
    if (plain.length > 0) units.push(plain);
    plain = [];
  };
  for (const step of steps) {
    if (step.children().length === 0) {
      plain.push(step);
      continue;
    }
    flush();
    if (step instanceof Stage) units.push(...step);
    else units.push(step);
  }
  flush();
  return units;
}

/**
 * Runs `units` in order. With `segments` > 0 they run as that many checkpointed
 * segments (only each segment's input is kept for backward); with 0, as a plain chain.
 */
export function runSegments(input: Tensor, units: CheckpointUnit[], segments: number): Tensor {
  const chain = (run: CheckpointUnit[]) => run.flat() as Module<Tensor, Tensor>[];
  if (segments <= 0) return runChain(input, chain(units));
  let x = input;
  for (const run of splitIntoSegments(units, segments)) {
    const next = checkpointOne((segmentInput) => runChain(segmentInput, chain(run)), x);
    if (x !== input && !x.kept) x.dispose();
    x = next;
  }
  return x;
}
