import { dropout } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Module } from './module.js';
import { pyFloat } from './repr.js';

export class Identity extends Module {
  forward(input: Tensor): Tensor {
    return input;
  }
}

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
  forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (p < 0 || p > 1) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
  }
  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
  forward(input: Tensor): Tensor {
    return this.p === 0 ? input : dropout(input, this.p, this.training);
  }
}
