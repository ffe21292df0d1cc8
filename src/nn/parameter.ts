// A Parameter is a tensor a module owns and trains: kept out of tidy() scopes and,
// by default, recording gradients.
import { native } from '../native.js';
import { Tensor } from '../torch/tensor.js';

export class Parameter extends Tensor {
  /** Wraps (shares the storage of) `data`, detached from any graph. */
  constructor(data: Tensor, requiresGrad = true) {
    super(native.detach(data.handle));
    this.kept = true;
    if (requiresGrad) native.setRequiresGrad(this.handle, true);
  }
}
