// A seeded, stratified hold-out split: every class gives the same share of its samples
// to the validation set, so a folder without a test split can still be evaluated on.
import { Random } from './random.js';

export interface StratifiedSplit {
  /** Dataset indices, in dataset order. */
  train: number[];
  validation: number[];
}

/**
 * Each class with n samples gives round(fraction * n) of them to validation (at least
 * one when n >= 2, never all of them), chosen by a shuffle seeded with (seed, class), so
 * the same seed always holds out the same samples.
 */
export function stratifiedSplit(labels: ArrayLike<number>, fraction: number, seed: number): StratifiedSplit {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`validation split: the fraction must be between 0 and 1 (exclusive), got ${fraction}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const held = new Set<number>();
  for (const [label, indices] of byClass) {
    if (indices.length < 2) continue;
    const count = Math.min(indices.length - 1, Math.max(1, Math.round(fraction * indices.length)));
    const shuffled = Random.forEpoch(seed, label).shuffle(indices.slice());
    for (const index of shuffled.slice(0, count)) held.add(index);
  }
  const train: number[] = [];
  const validation: number[] = [];
  for (let i = 0; i < labels.length; i++) (held.has(i) ? validation : train).push(i);
  return { train, validation };
}
