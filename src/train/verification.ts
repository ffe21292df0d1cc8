// Face verification metrics exactly as InsightFace's verification.py computes them
// (after David Sandberg's facenet LFW helper): squared L2 distances between
// L2-normalised embeddings, pairs split into 10 contiguous folds (sklearn's KFold
// without shuffling), the accuracy threshold chosen on nine folds from 0, 0.01, ...,
// 3.99 and applied to the tenth; TAR at a FAR target per fold from thresholds 0,
// 0.001, ..., 3.999 with the threshold linearly interpolated on the training folds'
// FAR (scipy's interp1d, kind 'slinear'); means and population standard deviations
// over the folds. A pair is called "same" when its distance is below the threshold.

/** One fold's pair indices, as sklearn.model_selection.KFold(n_splits, shuffle=False) gives them. */
export function kFoldSplits(count: number, folds: number): { train: number[]; test: number[] }[] {
  if (!Number.isInteger(folds) || folds < 2) throw new Error(`folds must be an integer >= 2, got ${folds}`);
  if (count < folds) throw new Error(`${count} pairs cannot be split into ${folds} folds`);
  const splits: { train: number[]; test: number[] }[] = [];
  let start = 0;
  for (let fold = 0; fold < folds; fold++) {
    const size = Math.floor(count / folds) + (fold < count % folds ? 1 : 0);
    const test: number[] = [];
    const train: number[] = [];
    for (let i = 0; i < count; i++) (i >= start && i < start + size ? test : train).push(i);
    splits.push({ train, test });
    start += size;
  }
  return splits;
}

/** numpy's arange(0, stop, step): element i is i * step. */
function arange(stop: number, step: number): number[] {
  const count = Math.ceil(stop / step);
  return Array.from({ length: count }, (_, i) => i * step);
}

interface Counts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

function confusion(threshold: number, distances: ArrayLike<number>, same: readonly boolean[], indices: readonly number[]): Counts {
  const counts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const i of indices) {
    const predictedSame = distances[i] < threshold;
    if (predictedSame) same[i] ? counts.tp++ : counts.fp++;
    else same[i] ? counts.fn++ : counts.tn++;
  }
  return counts;
}

const accuracyOf = (c: Counts) => (c.tp + c.tn) / (c.tp + c.tn + c.fp + c.fn);
const tprOf = (c: Counts) => (c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn));
const fprOf = (c: Counts) => (c.fp + c.tn === 0 ? 0 : c.fp / (c.fp + c.tn));

/** verification.py's calculate_val_far: TAR and FAR, which need same and different pairs. */
function valFar(threshold: number, distances: ArrayLike<number>, same: readonly boolean[], indices: readonly number[], where: string): { tar: number; far: number } {
  const c = confusion(threshold, distances, same, indices);
  if (c.tp + c.fn === 0) throw new Error(`${where} has no same-identity pairs, so TAR is undefined; are the pairs grouped by kind? LFW's folds each mix both`);
  if (c.fp + c.tn === 0) throw new Error(`${where} has no different-identity pairs, so FAR is undefined; are the pairs grouped by kind? LFW's folds each mix both`);
  return { tar: c.tp / (c.tp + c.fn), far: c.fp / (c.fp + c.tn) };
}

/** calculate_val_far's FAR at every threshold (ascending), counted in one sweep over the sorted different-pair distances. */
function farCurve(thresholds: readonly number[], distances: ArrayLike<number>, same: readonly boolean[], indices: readonly number[], where: string): number[] {
  const negatives = indices.filter((i) => !same[i]).map((i) => distances[i]).sort((a, b) => a - b);
  if (negatives.length === 0) valFar(0, distances, same, indices, where); // throws the missing-pairs error
  let below = 0;
  return thresholds.map((threshold) => {
    while (below < negatives.length && negatives[below] < threshold) below++;
    return below / negatives.length;
  });
}

/**
 * scipy.interpolate.interp1d(x, y, kind='slinear')(target) for non-decreasing x that
 * reaches target: the linear B-spline through the points, so on a run of equal x it
 * takes the last point of the run (a stable sort's order; scipy's argsort may order
 * a run differently, which can move a threshold within one plateau of equal FAR).
 */
export function interpolateSlinear(x: readonly number[], y: readonly number[], target: number): number {
  let j = -1;
  for (let i = 0; i < x.length; i++) if (x[i] <= target) j = i;
  if (j < 0) throw new Error(`interpolation target ${target} is below every x`);
  if (j === x.length - 1) return y[j];
  return y[j] + ((y[j + 1] - y[j]) * (target - x[j])) / (x[j + 1] - x[j]);
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
/** numpy's std: the population standard deviation (ddof 0). */
const std = (values: readonly number[]) => {
  const m = mean(values);
  return Math.sqrt(mean(values.map((v) => (v - m) ** 2)));
};

export interface TarAtFar {
  /** The FAR target (1e-3, 1e-4). */
  farTarget: number;
  /** Mean and standard deviation over the folds of the TAR at the interpolated threshold. */
  tar: number;
  tarStd: number;
  /** The FAR those thresholds give on the test folds, averaged. */
  far: number;
}

export interface VerificationResult {
  pairs: number;
  samePairs: number;
  folds: number;
  /** Mean and standard deviation of the ten test folds' accuracy. */
  accuracy: number;
  accuracyStd: number;
  foldAccuracies: number[];
  /** Each fold's chosen threshold on the squared distance (cosine = 1 - threshold / 2). */
  foldThresholds: number[];
  tarAtFar: TarAtFar[];
  /** verification.py's ROC: TPR and FPR at each of the 400 thresholds, averaged over the test folds. */
  tpr: number[];
  fpr: number[];
}

export interface VerificationOptions {
  folds?: number;
  farTargets?: number[];
}

/** The LFW protocol over squared distances of normalised embeddings (see the top of this file). */
export function evaluateVerification(distances: ArrayLike<number>, same: readonly boolean[], options: VerificationOptions = {}): VerificationResult {
  const folds = options.folds ?? 10;
  const farTargets = options.farTargets ?? [1e-3, 1e-4];
  if (distances.length !== same.length) throw new Error(`${distances.length} distances but ${same.length} same/different labels`);
  for (let i = 0; i < distances.length; i++) {
    if (!Number.isFinite(distances[i])) throw new Error(`pair ${i}: the distance is ${distances[i]} (an embedding with NaN or zero norm?)`);
  }
  const splits = kFoldSplits(same.length, folds);

  const rocThresholds = arange(4, 0.01);
  const tprs: number[][] = [];
  const fprs: number[][] = [];
  const foldAccuracies: number[] = [];
  const foldThresholds: number[] = [];
  for (const { train, test } of splits) {
    let best = 0;
    let bestAccuracy = -1;
    rocThresholds.forEach((threshold, t) => {
      const accuracy = accuracyOf(confusion(threshold, distances, same, train));
      if (accuracy > bestAccuracy) [best, bestAccuracy] = [t, accuracy];
    });
    const counts = rocThresholds.map((threshold) => confusion(threshold, distances, same, test));
    tprs.push(counts.map(tprOf));
    fprs.push(counts.map(fprOf));
    foldAccuracies.push(accuracyOf(counts[best]));
    foldThresholds.push(rocThresholds[best]);
  }

  const valThresholds = arange(4, 0.001);
  const tarAtFar = farTargets.map((farTarget): TarAtFar => {
    const tars: number[] = [];
    const fars: number[] = [];
    splits.forEach(({ train, test }, fold) => {
      const farTrain = farCurve(valThresholds, distances, same, train, `the training folds of fold ${fold + 1}`);
      const threshold = Math.max(...farTrain) >= farTarget ? interpolateSlinear(farTrain, valThresholds, farTarget) : 0;
      const { tar, far } = valFar(threshold, distances, same, test, `fold ${fold + 1}`);
      tars.push(tar);
      fars.push(far);
    });
    return { farTarget, tar: mean(tars), tarStd: std(tars), far: mean(fars) };
  });

  return {
    pairs: same.length,
    samePairs: same.filter(Boolean).length,
    folds,
    accuracy: mean(foldAccuracies),
    accuracyStd: std(foldAccuracies),
    foldAccuracies,
    foldThresholds,
    tarAtFar,
    tpr: rocThresholds.map((_, t) => mean(tprs.map((row) => row[t]))),
    fpr: rocThresholds.map((_, t) => mean(fprs.map((row) => row[t]))),
  };
}

/** Squared L2 distances between the rows of two sets of L2-normalised embeddings [N, D], as verification.py computes them. */
export function squaredDistances(first: Float32Array | Float64Array, second: Float32Array | Float64Array, dim: number): Float64Array {
  if (first.length !== second.length || first.length % dim !== 0) throw new Error(`embedding sets of ${first.length} and ${second.length} values do not pair up in rows of ${dim}`);
  const out = new Float64Array(first.length / dim);
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let k = 0; k < dim; k++) sum += (first[i * dim + k] - second[i * dim + k]) ** 2;
    out[i] = sum;
  }
  return out;
}

/** The ROC over every pair (each distance a threshold): FPR ascending, for plotting. */
export function exactRoc(distances: ArrayLike<number>, same: readonly boolean[]): { fpr: number[]; tpr: number[] } {
  const order = Array.from({ length: same.length }, (_, i) => i).sort((a, b) => distances[a] - distances[b]);
  const positives = same.filter(Boolean).length;
  const negatives = same.length - positives;
  const fpr = [0];
  const tpr = [0];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    if (same[order[k]]) tp++;
    else fp++;
    // One point per distinct distance: ties are accepted together.
    if (k + 1 < order.length && distances[order[k + 1]] === distances[order[k]]) continue;
    fpr.push(negatives === 0 ? 0 : fp / negatives);
    tpr.push(positives === 0 ? 0 : tp / positives);
  }
  return { fpr, tpr };
}
