#!/usr/bin/python3
"""Trains the paper's FractalNet (fractalnet_reference.py) on Fashion-MNIST the way
`resnets train` does, as the peer for our FractalNet's short-run accuracy.

  fractalnet_train_reference.py [--epochs 3] [--limit-train 6000] [--limit-test 5000]
      [--lr 0.1] [--momentum 0.9] [--no-nesterov] [--weight-decay 5e-4]
      [--warmup-epochs E] [--local-drop 0.15] [--global-ratio 0.5] [--no-dropout]

The recipe of `resnets train` unless changed: SGD with Nesterov momentum 0.9, weight
decay 5e-4 except on BatchNorm and biases, batch 128 with the last partial batch left
out, a linear warm-up from a tenth of the rate (a fifth of a run under 5 epochs, else 1
epoch) then cosine to 0 per step, pad-4 random crops and horizontal flips, the set's mean
0.286 and std 0.353; He-normal convolutions (fan-in), BatchNorm 1 and 0, Linear bias 0.
The model is fractalnet_fmnist: C=3, B=4, channels 32-64-128-256, dropout 0-0.3.
One JSON line per epoch on stdout: train loss and accuracy (train mode), test accuracy
with every column (eval mode, mean joins) and with each column alone.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from data_reference import read_idx  # noqa: E402
from fractalnet_reference import FractalNet  # noqa: E402

DATA = '/usr/share/datasets/fashion-mnist'
MEAN, STD = 0.286, 0.353


def load(split, limit):
    prefix = 'train' if split == 'train' else 't10k'
    images = torch.from_numpy(read_idx(os.path.join(DATA, f'{prefix}-images-idx3-ubyte.gz'), 16, (28, 28))[:limit].copy()).float().div(255)
    labels = torch.from_numpy(read_idx(os.path.join(DATA, f'{prefix}-labels-idx1-ubyte.gz'), 8, ())[:limit].astype(np.int64))
    return images.sub(MEAN).div(STD).unsqueeze(1), labels


def augment(batch):
    """Pad-4 random crops (zero padding of the 0..1 image, i.e. -mean/std here) and flips."""
    n, _, h, w = batch.shape
    padded = F.pad(batch, (4, 4, 4, 4), value=-MEAN / STD)
    out = torch.empty_like(batch)
    for i in range(n):
        dy, dx = (int(v) for v in torch.randint(9, (2,)))
        crop = padded[i, :, dy:dy + h, dx:dx + w]
        out[i] = crop.flip(-1) if float(torch.rand(())) < 0.5 else crop
    return out


def init_weights(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


def accuracy(model, images, labels, column=None):
    model.eval()
    model.eval_column = column
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), 500):
            correct += int((model(images[start:start + 500]).argmax(1) == labels[start:start + 500]).sum())
    model.eval_column = None
    return correct / len(images)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--limit-train', type=int, default=6000)
    p.add_argument('--limit-test', type=int, default=5000)
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--lr', type=float, default=0.1)
    p.add_argument('--momentum', type=float, default=0.9)
    p.add_argument('--no-nesterov', action='store_true')
    p.add_argument('--weight-decay', type=float, default=5e-4)
    p.add_argument('--warmup-epochs', type=float)
    p.add_argument('--local-drop', type=float, default=0.15)
    p.add_argument('--global-ratio', type=float, default=0.5)
    p.add_argument('--no-dropout', action='store_true')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    torch.manual_seed(args.seed)

    train_x, train_y = load('train', args.limit_train)
    test_x, test_y = load('test', args.limit_test)
    drop_rates = [0.0] * 4 if args.no_dropout else [0.0, 0.1, 0.2, 0.3]
    model = FractalNet(3, 4, [32, 64, 128, 256], 1, 10, drop_rates, args.local_drop, args.global_ratio)
    init_weights(model)

    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{'params': decay, 'weight_decay': args.weight_decay}, {'params': no_decay, 'weight_decay': 0}],
                          lr=args.lr, momentum=args.momentum, nesterov=not args.no_nesterov)
    steps_per_epoch = len(train_x) // args.batch_size
    warmup_epochs = args.warmup_epochs if args.warmup_epochs is not None else min(1, args.epochs / 5)
    warmup = round(warmup_epochs * steps_per_epoch)
    total = args.epochs * steps_per_epoch

    def lr_factor(step):
        if step < warmup:
            return 0.1 + 0.9 * step / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train_x))
        loss_sum, correct, seen = 0.0, 0, 0
        for s in range(steps_per_epoch):
            idx = order[s * args.batch_size:(s + 1) * args.batch_size]
            x, y = augment(train_x[idx]), train_y[idx]
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(y)
            correct += int((out.argmax(1) == y).sum())
            seen += len(y)
        record = {'epoch': epoch, 'trainLoss': loss_sum / seen, 'trainAccuracy': correct / seen,
                  'testAccuracy': accuracy(model, test_x, test_y)}
        if epoch == args.epochs:
            record['testAccuracyColumn'] = [accuracy(model, test_x, test_y, c) for c in (1, 2, 3)]
        print(json.dumps(record), flush=True)


if __name__ == '__main__':
    main()
