// Stochastic depth (Huang et al. 2016) as timm applies it: each sample's residual branch
// is dropped with probability p in training (and the kept ones scaled by 1/(1-p)); in
// eval mode it is the identity. The mask comes from libtorch's generator, so a run
// seeded per step (train/loop.ts) draws the same masks after a resume.
import { Module } from '../nn/module.js';
import { empty } from '../torch/creation.js';
import { bernoulli } from '../torch/functional.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

export function dropPath(input: Tensor, p: number, training: boolean, scaleByKeep = true): Tensor {
  if (p === 0 || !training) return input;
  const keep = 1 - p;
  return tidy(() => {
    const shape = [input.size(0), ...input.shape.slice(1).map(() => 1)];
    let mask = bernoulli(empty(shape, { dtype: input.dtype, device: input.device }), keep);
    if (scaleByKeep && keep > 0) mask = mask.div_(keep);
    return input.mul(mask);
  });
}

export class DropPath extends Module {
  constructor(
    readonly p: number,
    readonly scaleByKeep = true,
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`DropPath: the drop probability must be in [0, 1], got ${p}`);
  }
  forward(input: Tensor): Tensor {
    return dropPath(input, this.p, this.training, this.scaleByKeep);
  }
}

/**
 * timm's per-block rates: rising linearly from 0 at the network's first block to `rate`
 * at its last, over every block of every stage. Returns one list per stage.
 */
export function dropPathRates(blocksPerStage: readonly number[], rate: number): number[][] {
  const total = blocksPerStage.reduce((a, b) => a + b, 0);
  let index = 0;
  return blocksPerStage.map((blocks) => Array.from({ length: blocks }, () => (total > 1 ? (rate * index++) / (total - 1) : (index++, 0))));
}
