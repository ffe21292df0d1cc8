// The `torch` namespace: tensors, functions, autograd, memory.
export { Tensor } from './tensor.js';
export type { Scalar, TensorOrScalar, NestedArray, ToOptions } from './tensor.js';
export type { DType, TypedArray } from './dtype.js';
export { dtypeSize, isFloatingPoint } from './dtype.js';
export * from './creation.js';
export * from './functional.js';
export * from './runtime.js';
export { tidy, keep, dispose } from './scope.js';
export * as autograd from './autograd.js';
export { autocast, isAutocastEnabled, type AutocastOptions } from './autocast.js';
export { cpuFeatures, describeCpu, type CpuFeatures } from './cpu-features.js';
export { checkpoint, checkpointOne, isRecomputing } from './checkpoint.js';
export { isMkldnn, toMkldnn, toDense } from './mkldnn-layout.js';
