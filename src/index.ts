// resnets: the ResNet family of convolutional networks for TypeScript.
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
export * as layers from './layers/index.js';
export * as data from './data/index.js';
export * as io from './io/index.js';
export * as models from './models/index.js';
export * as train from './train/index.js';
export * as tools from './tools/index.js';
export { createModel, createModelFromConfig, listModels } from './models/index.js';
