import { full } from '../torch/creation.js';
import { prelu } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Module } from './module.js';
import { pyBool } from './repr.js';
import type { Parameter } from './parameter.js';

export class ReLU extends Module {
  constructor(readonly inplace = false) {
    super();
  }
  override extraRepr(): string {
    return this.inplace ? `inplace=${pyBool(true)}` : '';
  }
  forward(input: Tensor): Tensor {
    return this.inplace ? input.relu_() : input.relu();
  }
}

/** ReLU with a learned negative slope per channel (or one shared), initialised to 0.25. */
export class PReLU extends Module {
  readonly weight: Parameter;
  constructor(
    readonly numParameters = 1,
    init = 0.25,
  ) {
    super();
    const weight = full([numParameters], init, { dtype: 'float32' });
    this.weight = this.registerParameter('weight', weight)!;
    weight.dispose();
  }
  override extraRepr(): string {
    return `num_parameters=${this.numParameters}`;
  }
  forward(input: Tensor): Tensor {
    return prelu(input, this.weight);
  }
}

export class Sigmoid extends Module {
  forward(input: Tensor): Tensor {
    return input.sigmoid();
  }
}

export class Softmax extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
  forward(input: Tensor): Tensor {
    return input.softmax(this.dim);
  }
}
