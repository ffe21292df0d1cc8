// The LFW protocol of InsightFace's verification.py: a synthetic list with an answer
// known by construction, and scripts/verification_reference.py (numpy, sklearn's KFold,
// scipy's linear spline) on a random list.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateVerification, exactRoc, interpolateSlinear, kFoldSplits } from '../src/train/verification.js';
import { renderRoc } from '../src/train/roc-svg.js';
import { runPython } from './helpers/python.js';

interface Reference {
  distances: number[];
  issame: boolean[];
  accuracy: number[];
  tpr: number[];
  fpr: number[];
  val: { far_target: number; val: number; val_std: number; far: number }[];
}

const close = (a: number, b: number, tolerance = 1e-12) => Math.abs(a - b) <= tolerance;

describe('LFW verification protocol', () => {
  it('splits as sklearn KFold(10) without shuffling: contiguous folds, the first ones one larger', () => {
    const splits = kFoldSplits(23, 10);
    assert.deepEqual(splits.map((s) => s.test.length), [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]);
    assert.deepEqual(splits[3].test, [9, 10]);
    assert.equal(splits[3].train.length, 21);
    assert.throws(() => kFoldSplits(5, 10), /5 pairs cannot be split into 10 folds/);
  });

  it('a list with a known answer: one wrong pair in fold 4 gives accuracy 0.99 +- 0.03', () => {
    // 100 pairs in folds of 10; same pairs at squared distance 0.5, different ones at 1.5,
    // except one same pair in fold 4 that looks different (distance 3).
    const same = Array.from({ length: 100 }, (_, i) => i % 2 === 0);
    const distances = same.map((s, i) => (i === 34 ? 3 : s ? 0.5 : 1.5));
    const result = evaluateVerification(distances, same);
    assert.deepEqual(result.foldAccuracies.map((a) => Number(a.toFixed(12))), [1, 1, 1, 0.9, 1, 1, 1, 1, 1, 1]);
    assert.ok(close(result.accuracy, 0.99));
    assert.ok(close(result.accuracyStd, 0.03)); // sqrt((9 * 0.01^2 + 0.09^2) / 10)
    // The first threshold above 0.5 in 0, 0.01, ... accepts the same pairs: 0.51.
    assert.ok(result.foldThresholds.every((t) => close(t, 0.51)));
    // FAR on the training folds is 0 up to threshold 1.5 and 1 from 1.501 on, so the
    // interpolated threshold is 1.5 + 0.001 * target: just past the different pairs,
    // which are all accepted (FAR 1), as verification.py does on such a list.
    for (const entry of result.tarAtFar) {
      assert.ok(close(entry.tar, (9 + 0.8) / 10), `TAR@${entry.farTarget} ${entry.tar}`);
      assert.equal(entry.far, 1);
    }
  });

  it("interpolates the FAR curve as scipy's slinear spline: the last point of a run of equal FAR", () => {
    const x = [0, 0, 0, 0.25, 0.25, 0.5];
    const y = [0, 1, 2, 3, 4, 5];
    assert.equal(interpolateSlinear(x, y, 0), 2);
    assert.equal(interpolateSlinear(x, y, 0.125), 2.5); // halfway from the last x = 0 (y 2) to the first x = 0.25 (y 3)
    assert.equal(interpolateSlinear(x, y, 0.25), 4);
    assert.equal(interpolateSlinear(x, y, 0.375), 4.5);
    assert.equal(interpolateSlinear(x, y, 0.5), 5);
  });

  it("matches InsightFace's evaluate() on a random list of 1200 pairs", () => {
    const ref = JSON.parse(runPython('verification_reference.py', ['5', '1200'])) as Reference;
    const result = evaluateVerification(ref.distances, ref.issame);
    result.foldAccuracies.forEach((a, i) => assert.ok(close(a, ref.accuracy[i]), `fold ${i + 1}: ${a} vs ${ref.accuracy[i]}`));
    const mean = ref.accuracy.reduce((a, b) => a + b) / 10;
    assert.ok(close(result.accuracy, mean));
    result.tpr.forEach((v, i) => assert.ok(close(v, ref.tpr[i]) && close(result.fpr[i], ref.fpr[i]), `ROC point ${i}`));
    ref.val.forEach((expected, i) => {
      const got = result.tarAtFar[i];
      assert.equal(got.farTarget, expected.far_target);
      assert.ok(close(got.tar, expected.val, 1e-9) && close(got.tarStd, expected.val_std, 1e-9) && close(got.far, expected.far, 1e-9), `TAR@FAR ${expected.far_target}: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
    });
  });

  it('folds without both kinds of pair are an error that says why', () => {
    const same = Array.from({ length: 40 }, (_, i) => i < 20);
    assert.throws(() => evaluateVerification(same.map(() => 1), same), /fold 1 has no different-identity pairs/);
    assert.throws(() => evaluateVerification([1, Number.NaN, ...Array(38).fill(1)], same), /pair 1: the distance is NaN/);
  });

  it('draws the ROC as an SVG with a curve and the marked points per model', () => {
    const same = [true, true, false, true, false, false];
    const roc = exactRoc([0.1, 0.4, 0.3, 0.9, 1.2, 1.5], same);
    assert.deepEqual(roc.fpr.map((v) => Number(v.toFixed(4))), [0, 0, 0.3333, 0.3333, 0.3333, 0.6667, 1]);
    assert.deepEqual(roc.tpr.map((v) => Number(v.toFixed(4))), [0, 0.3333, 0.3333, 0.6667, 1, 1, 1]);
    const svg = renderRoc([{ name: 'arcface & co', ...roc, marks: [{ far: 1e-3, tar: 0.5 }] }], 'ROC <test>', '6 pairs');
    assert.match(svg, /^<svg [^>]*viewBox="0 0 640 480"/);
    assert.match(svg, /arcface &amp; co/);
    assert.match(svg, /ROC &lt;test&gt;/);
    assert.equal(svg.match(/<polyline /g)?.length, 1);
    assert.match(svg, /TAR 0.5000 at FAR 0.001/);
  });
});
