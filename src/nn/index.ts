// The `nn` namespace: Module, Parameter, layers and initialisers.
export { Module, type ForwardHook, type LoadResult } from './module.js';
export { Parameter } from './parameter.js';
export { Conv2d, type Conv2dOptions } from './conv.js';
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './batchnorm.js';
export { SyncBatchNorm, convertSyncBatchNorm } from './sync-batchnorm.js';
export { Linear } from './linear.js';
export { PReLU, ReLU, Sigmoid, Softmax } from './activation.js';
export { AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d } from './pooling.js';
export { Dropout, Flatten, Identity } from './basic.js';
export { Sequential } from './sequential.js';
export * as init from './init.js';
export type { StateDict } from '../io/types.js';
