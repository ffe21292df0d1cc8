import { empty } from '../torch/creation.js';
import { linear } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';
import { pyBool } from './repr.js';
import type { Parameter } from './parameter.js';

/** y = x Wᵀ + b, initialised as PyTorch does. */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean } = {},
  ) {
    super();
    const weight = kaimingUniform_(empty([outFeatures, inFeatures]), { a: Math.sqrt(5) });
    this.weight = this.registerParameter('weight', weight)!;
    weight.dispose();
    if (options.bias ?? true) {
      const bound = 1 / Math.sqrt(inFeatures);
      const bias = uniform_(empty([outFeatures]), -bound, bound);
      this.bias = this.registerParameter('bias', bias);
      bias.dispose();
    } else {
      this.bias = this.registerParameter('bias', null);
    }
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }

  forward(input: Tensor): Tensor {
    const features = input.shape.at(-1);
    if (features !== this.inFeatures) {
      throw new Error(`expected ${this.inFeatures} input features in the last dimension, got [${input.shape.join(', ')}]`);
    }
    return linear(input, this.weight, this.bias);
  }
}
