import type { Tensor } from '../torch/tensor.js';

/** Tensors by dotted name, in insertion order (PyTorch's `state_dict`). */
export type StateDict = Record<string, Tensor>;
