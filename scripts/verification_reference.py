"""Reference LFW-protocol figures for test/train-verification.test.ts.

Usage: verification_reference.py SEED PAIRS
Draws a synthetic verification set from SEED: PAIRS pairs, alternating same and
different identity in runs as LFW's pairs.txt does, each pair a cosine similarity
(same pairs around 0.55, different pairs around 0.05) and the squared distance of
normalised embeddings 2 - 2 cos. Then runs InsightFace's evaluate() as
recognition/arcface_torch/eval/verification.py writes it (calculate_roc with
sklearn's KFold, calculate_val with scipy's interp1d 'slinear' spline, FAR 1e-3 and 1e-4).
Prints JSON: the distances and labels, the per-fold accuracies, the mean TPR and FPR
at the 400 accuracy thresholds, and val, val_std and far per FAR target.
"""
import json
import sys

import numpy as np
from scipy import interpolate
from sklearn.model_selection import KFold


def calculate_accuracy(threshold, dist, actual_issame):
    predict_issame = np.less(dist, threshold)
    tp = np.sum(np.logical_and(predict_issame, actual_issame))
    fp = np.sum(np.logical_and(predict_issame, np.logical_not(actual_issame)))
    tn = np.sum(np.logical_and(np.logical_not(predict_issame), np.logical_not(actual_issame)))
    fn = np.sum(np.logical_and(np.logical_not(predict_issame), actual_issame))
    tpr = 0 if (tp + fn == 0) else float(tp) / float(tp + fn)
    fpr = 0 if (fp + tn == 0) else float(fp) / float(fp + tn)
    acc = float(tp + tn) / dist.size
    return tpr, fpr, acc


def calculate_roc(thresholds, dist, actual_issame, nrof_folds=10):
    nrof_pairs = len(actual_issame)
    nrof_thresholds = len(thresholds)
    k_fold = KFold(n_splits=nrof_folds, shuffle=False)
    tprs = np.zeros((nrof_folds, nrof_thresholds))
    fprs = np.zeros((nrof_folds, nrof_thresholds))
    accuracy = np.zeros((nrof_folds))
    indices = np.arange(nrof_pairs)
    for fold_idx, (train_set, test_set) in enumerate(k_fold.split(indices)):
        acc_train = np.zeros((nrof_thresholds))
        for threshold_idx, threshold in enumerate(thresholds):
            _, _, acc_train[threshold_idx] = calculate_accuracy(threshold, dist[train_set], actual_issame[train_set])
        best_threshold_index = np.argmax(acc_train)
        for threshold_idx, threshold in enumerate(thresholds):
            tprs[fold_idx, threshold_idx], fprs[fold_idx, threshold_idx], _ = calculate_accuracy(threshold, dist[test_set], actual_issame[test_set])
        _, _, accuracy[fold_idx] = calculate_accuracy(thresholds[best_threshold_index], dist[test_set], actual_issame[test_set])
    return np.mean(tprs, 0), np.mean(fprs, 0), accuracy


def calculate_val_far(threshold, dist, actual_issame):
    predict_issame = np.less(dist, threshold)
    true_accept = np.sum(np.logical_and(predict_issame, actual_issame))
    false_accept = np.sum(np.logical_and(predict_issame, np.logical_not(actual_issame)))
    n_same = np.sum(actual_issame)
    n_diff = np.sum(np.logical_not(actual_issame))
    return float(true_accept) / float(n_same), float(false_accept) / float(n_diff)


def interp1d_slinear(x, y):
    """interpolate.interp1d(x, y, kind='slinear') as the scipy verification.py was written for.

    interp1d sorts x stably (mergesort), then builds a linear B-spline with knots
    [x0, x..., xn]. Older scipy built it directly; scipy 1.10's make_interp_spline
    refuses the repeated x that FAR curves always have, so the same spline is built here.
    """
    order = np.argsort(x, kind="mergesort")
    xs, ys = np.asarray(x)[order], np.asarray(y)[order]
    return interpolate.BSpline.construct_fast(np.r_[xs[0], xs, xs[-1]], np.ascontiguousarray(ys, dtype=float), 1)


def calculate_val(thresholds, dist, actual_issame, far_target, nrof_folds=10):
    nrof_pairs = len(actual_issame)
    nrof_thresholds = len(thresholds)
    k_fold = KFold(n_splits=nrof_folds, shuffle=False)
    val = np.zeros(nrof_folds)
    far = np.zeros(nrof_folds)
    indices = np.arange(nrof_pairs)
    for fold_idx, (train_set, test_set) in enumerate(k_fold.split(indices)):
        far_train = np.zeros(nrof_thresholds)
        for threshold_idx, threshold in enumerate(thresholds):
            _, far_train[threshold_idx] = calculate_val_far(threshold, dist[train_set], actual_issame[train_set])
        if np.max(far_train) >= far_target:
            f = interp1d_slinear(far_train, thresholds)
            threshold = f(far_target)
        else:
            threshold = 0.0
        val[fold_idx], far[fold_idx] = calculate_val_far(threshold, dist[test_set], actual_issame[test_set])
    return np.mean(val), np.std(val), np.mean(far)


def main():
    seed, pairs = int(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(seed)
    # Runs of 30 same pairs then 30 different pairs, as pairs.txt's sets of 300 + 300.
    issame = np.array([(i // 30) % 2 == 0 for i in range(pairs)])
    cosine = np.where(issame, rng.normal(0.55, 0.2, pairs), rng.normal(0.05, 0.15, pairs)).clip(-1, 1)
    dist = 2.0 - 2.0 * cosine
    tpr, fpr, accuracy = calculate_roc(np.arange(0, 4, 0.01), dist, issame)
    vals = []
    for target in (1e-3, 1e-4):
        val, val_std, far = calculate_val(np.arange(0, 4, 0.001), dist, issame, target)
        vals.append({"far_target": target, "val": val, "val_std": val_std, "far": far})
    print(json.dumps({
        "distances": dist.tolist(), "issame": issame.tolist(), "accuracy": accuracy.tolist(),
        "tpr": tpr.tolist(), "fpr": fpr.tolist(), "val": vals,
    }))


if __name__ == "__main__":
    main()
