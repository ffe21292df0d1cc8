// resnets: the ResNet family of convolutional networks for TypeScript.
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
