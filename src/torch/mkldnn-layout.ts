// oneDNN's blocked ("mkldnn") tensor layout: libtorch runs convolutions, batch norm,
// ReLU, additions and pooling on such tensors with oneDNN's kernels directly, and
// autograd differentiates through them, so activations can stay blocked between layers
// instead of being reordered into it and back by every convolution.
import { native } from '../native.js';
import { Tensor } from './tensor.js';

export function isMkldnn(tensor: Tensor): boolean {
  return native.isMkldnn(tensor.handle) as boolean;
}

/** A copy of a dense float32 CPU tensor in oneDNN's layout (differentiable). */
export function toMkldnn(tensor: Tensor): Tensor {
  return new Tensor(native.toMkldnn(tensor.handle));
}

/** A dense (strided) copy of a oneDNN-layout tensor (differentiable). */
export function toDense(tensor: Tensor): Tensor {
  return new Tensor(native.toDense(tensor.handle));
}
