// torch.autograd: gradients of outputs with respect to chosen inputs, without touching
// any `.grad` (PyTorch's torch.autograd.grad).
import { native } from '../native.js';
import { Tensor } from './tensor.js';

export interface GradOptions {
  /** Weights for each output's gradient; may be left out for scalar outputs (ones). */
  gradOutputs?: Tensor | Tensor[];
  /** Keep the graph for another backward pass (default: createGraph). */
  retainGraph?: boolean;
  /** Record the gradient computation itself, for higher-order derivatives. */
  createGraph?: boolean;
  /** Inputs the outputs do not depend on get null instead of an error. */
  allowUnused?: boolean;
}

const list = (value: Tensor | Tensor[]): Tensor[] => (Array.isArray(value) ? value : [value]);

/** d(outputs)/d(inputs): one gradient per input (null for an unused one with allowUnused). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  const handles = (native.autogradGrad(
    list(outputs).map((t) => t.handle),
    list(inputs).map((t) => t.handle),
    options.gradOutputs ? list(options.gradOutputs).map((t) => t.handle) : [],
    options.retainGraph ?? false,
    options.createGraph ?? false,
    options.allowUnused ?? false,
  ) as (object | null)[]);
  return handles.map((handle) => (handle === null ? null : new Tensor(handle)));
}
