// timm's BatchNormAct2d: a BatchNorm2d whose activation is part of it (child `act`), so a
// pre-activation block's `norm1` is one module with BatchNorm's keys (`norm1.weight`,
// `norm1.running_mean`, ...), as ResNet v2 and timm's DenseNet lay them out.
import { BatchNorm2d, type BatchNormOptions } from '../nn/batchnorm.js';
import { Identity } from '../nn/basic.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { relu, type ActFactory } from './factories.js';

export class BatchNormAct2d extends BatchNorm2d {
  readonly act: Module;

  constructor(numFeatures: number, options: BatchNormOptions & { act?: ActFactory } = {}) {
    super(numFeatures, options);
    this.act = this.registerModule('act', (options.act ?? relu)(numFeatures));
  }

  override forward(input: Tensor): Tensor {
    return this.act.call(super.forward(input));
  }
}

/** What stands in for a BatchNorm folded into the convolution before it: its activation, if it has one. */
export function afterFolding(norm: BatchNorm2d): Module {
  return norm instanceof BatchNormAct2d ? norm.act : new Identity();
}
