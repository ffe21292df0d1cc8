import { conv2d, pair, type Pair } from '../torch/functional.js';
import { empty } from '../torch/creation.js';
import type { Tensor } from '../torch/tensor.js';
import { fans, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';
import { pyInts } from './repr.js';
import type { Parameter } from './parameter.js';

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

/** 2-D convolution; `groups` > 1 is a real grouped convolution (ResNeXt). */
export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly kernelSize: [number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    options: Conv2dOptions = {},
  ) {
    super();
    const groups = options.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(`Conv2d: channels ${inChannels} -> ${outChannels} are not divisible by groups=${groups}`);
    }
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    this.dilation = pair(options.dilation ?? 1);
    this.groups = groups;
    // PyTorch's default: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    const weight = kaimingUniform_(empty([outChannels, inChannels / groups, ...this.kernelSize]), { a: Math.sqrt(5) });
    this.weight = this.registerParameter('weight', weight)!;
    weight.dispose();
    if (options.bias ?? true) {
      const bound = 1 / Math.sqrt(fans(this.weight).fanIn);
      const bias = uniform_(empty([outChannels]), -bound, bound);
      this.bias = this.registerParameter('bias', bias);
      bias.dispose();
    } else {
      this.bias = this.registerParameter('bias', null);
    }
  }
  readonly groups: number;

  override extraRepr(): string {
    let text = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyInts(this.kernelSize)}, stride=${pyInts(this.stride)}`;
    if (this.padding.some((p) => p !== 0)) text += `, padding=${pyInts(this.padding)}`;
    if (this.dilation.some((d) => d !== 1)) text += `, dilation=${pyInts(this.dilation)}`;
    if (this.groups !== 1) text += `, groups=${this.groups}`;
    if (!this.bias) text += ', bias=False';
    return text;
  }

  forward(input: Tensor): Tensor {
    return conv2d(input, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}
