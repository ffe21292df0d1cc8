"""Reference margin-loss values for test/train-losses.test.ts.

Usage: margin_reference.py SEED
Builds embeddings [6, 8], class centres [5, 8] and labels from SEED, with row 0's
embedding pointing away from its class centre (theta > pi - 0.5, the fallback branch of
ArcFace) and row 1's almost on it (theta near 0). For each case it computes, in float64:
 - the target logits by hand with numpy (the formulas of the papers' code), and
 - the whole head with torch as arcface_torch writes it: PartialFC's normalise, linear,
   clamp(-1, 1), then CombinedMarginLoss (ArcFace and CosFace branches) or the MXNet
   train script's combined margin cos(m1*theta + m2) - m3, then cross-entropy,
and checks that the two agree. Prints JSON: the inputs, and per case the logits, the
mean cross-entropy and the gradients for the embeddings and the centres.
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

CASES = [
    {"name": "arcface", "s": 64.0, "m1": 1.0, "m2": 0.5, "m3": 0.0},
    {"name": "cosface", "s": 64.0, "m1": 1.0, "m2": 0.0, "m3": 0.35},
    {"name": "combined", "s": 64.0, "m1": 1.0, "m2": 0.3, "m3": 0.2},
    {"name": "combined", "s": 32.0, "m1": 0.9, "m2": 0.4, "m3": 0.15},
    {"name": "combined", "s": 30.0, "m1": 1.0, "m2": 0.0, "m3": 0.25},
]


def arcface_torch_margin(logits, labels, s, m):
    """arcface_torch CombinedMarginLoss, branch m1 == 1 and m3 == 0 (easy_margin False)."""
    cos_m, sin_m = math.cos(m), math.sin(m)
    theta = math.cos(math.pi - m)
    sinmm = math.sin(math.pi - m) * m
    index = torch.where(labels != -1)[0]
    target_logit = logits[index, labels[index].view(-1)]
    sin_theta = torch.sqrt(1.0 - torch.pow(target_logit, 2))
    cos_theta_m = target_logit * cos_m - sin_theta * sin_m
    final_target_logit = torch.where(target_logit > theta, cos_theta_m, target_logit - sinmm)
    logits = logits.clone()
    logits[index, labels[index].view(-1)] = final_target_logit
    return logits * s


def cosface_margin(logits, labels, s, m3):
    index = torch.where(labels != -1)[0]
    target_logit = logits[index, labels[index].view(-1)]
    logits = logits.clone()
    logits[index, labels[index].view(-1)] = target_logit - m3
    return logits * s


def mxnet_combined_margin(cos, labels, s, m1, m2, m3):
    """The MXNet train script's margin_softmax: fc7 = s*cos; the target entry becomes s*(cos(m1*t + m2) - m3)."""
    fc7 = cos * s
    one_hot = F.one_hot(labels, cos.shape[1]).to(cos.dtype)
    if m1 == 1.0 and m2 == 0.0:
        return fc7 - one_hot * (s * m3)
    zy = fc7.gather(1, labels.view(-1, 1)).view(-1)
    t = torch.arccos(zy / s)
    if m1 != 1.0:
        t = t * m1
    if m2 > 0.0:
        t = t + m2
    body = torch.cos(t)
    if m3 > 0.0:
        body = body - m3
    diff = (body * s - zy).unsqueeze(1)
    return fc7 + one_hot * diff


def by_hand(cos, labels, case):
    """The target entries from the formulas, with numpy."""
    s, m1, m2, m3 = case["s"], case["m1"], case["m2"], case["m3"]
    out = cos.copy()
    for i, label in enumerate(labels):
        c = cos[i, label]
        if case["name"] == "arcface":
            out[i, label] = math.cos(math.acos(c) + m2) if c > math.cos(math.pi - m2) else c - math.sin(math.pi - m2) * m2
        elif case["name"] == "cosface":
            out[i, label] = c - m3
        else:
            out[i, label] = math.cos(m1 * math.acos(c) + m2) - m3
    return out * s


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    rng = np.random.default_rng(seed)
    classes, dim, rows = 5, 8, 6
    weight = rng.normal(0, 1, (classes, dim))
    labels = np.array([0, 1, 2, 3, 4, 2])
    embeddings = rng.normal(0, 1, (rows, dim))
    embeddings[0] = -weight[labels[0]] * 1.5 + rng.normal(0, 0.05, dim)
    embeddings[1] = weight[labels[1]] * 0.7 + rng.normal(0, 0.02, dim)

    out = {"embeddings": embeddings.tolist(), "weight": weight.tolist(), "labels": labels.tolist(), "cases": []}
    for case in CASES:
        emb = torch.tensor(embeddings, dtype=torch.float64, requires_grad=True)
        w = torch.tensor(weight, dtype=torch.float64, requires_grad=True)
        lab = torch.tensor(labels, dtype=torch.int64)
        cos = F.linear(F.normalize(emb), F.normalize(w)).clamp(-1, 1)
        if case["name"] == "arcface":
            logits = arcface_torch_margin(cos, lab, case["s"], case["m2"])
        elif case["name"] == "cosface":
            logits = cosface_margin(cos, lab, case["s"], case["m3"])
        else:
            logits = mxnet_combined_margin(cos, lab, case["s"], case["m1"], case["m2"], case["m3"])
        hand = by_hand(cos.detach().numpy(), labels, case)
        assert np.allclose(hand, logits.detach().numpy(), rtol=1e-12, atol=1e-12), case
        loss = F.cross_entropy(logits, lab)
        loss.backward()
        out["cases"].append({
            **case,
            "cosine": cos.detach().numpy().tolist(),
            "logits": logits.detach().numpy().tolist(),
            "loss": loss.item(),
            "grad_embeddings": emb.grad.numpy().tolist(),
            "grad_weight": w.grad.numpy().tolist(),
        })
    # Row 0 must exercise ArcFace's fallback branch and row 1 the near-zero angle.
    cos0 = out["cases"][0]["cosine"][0][labels[0]]
    assert cos0 < math.cos(math.pi - 0.5), cos0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
