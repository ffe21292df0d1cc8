import { adaptiveAvgPool2d, adaptiveMaxPool2d, avgPool2d, maxPool2d, type AvgPoolOptions, type MaxPoolOptions, type Pair } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Module } from './module.js';
import { pyBool, pyInts } from './repr.js';

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: MaxPoolOptions = {},
  ) {
    super();
  }
  override extraRepr(): string {
    const o = this.options;
    return `kernel_size=${pyInts(this.kernelSize)}, stride=${pyInts(o.stride ?? this.kernelSize)}, padding=${pyInts(o.padding ?? 0)}, dilation=${pyInts(o.dilation ?? 1)}, ceil_mode=${pyBool(o.ceilMode ?? false)}`;
  }
  forward(input: Tensor): Tensor {
    return maxPool2d(input, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: AvgPoolOptions = {},
  ) {
    super();
  }
  override extraRepr(): string {
    const o = this.options;
    return `kernel_size=${pyInts(this.kernelSize)}, stride=${pyInts(o.stride ?? this.kernelSize)}, padding=${pyInts(o.padding ?? 0)}`;
  }
  forward(input: Tensor): Tensor {
    return avgPool2d(input, this.kernelSize, this.options);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  override extraRepr(): string {
    return `output_size=${pyInts(this.outputSize)}`;
  }
  forward(input: Tensor): Tensor {
    return adaptiveAvgPool2d(input, this.outputSize);
  }
}

export class AdaptiveMaxPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  override extraRepr(): string {
    return `output_size=${pyInts(this.outputSize)}`;
  }
  forward(input: Tensor): Tensor {
    return adaptiveMaxPool2d(input, this.outputSize);
  }
}
