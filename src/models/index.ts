// The model zoo: the registry, the residual families and inference-time fusion.
// Importing this module registers every model.
export {
  createModel,
  createModelFromConfig,
  getModelInfo,
  listModels,
  registerFamily,
  registerModel,
  type ModelBuilder,
  type ModelConfig,
  type ModelInfo,
  type ModelOptions,
} from './registry.js';
export { ImageClassifier, type InferenceSettings } from './classifier.js';
export {
  downloadUrl,
  getPretrained,
  imagenetClassNames,
  isWeightsTag,
  listPretrained,
  registerPretrained,
  type PretrainedTransforms,
  type PretrainedWeights,
} from './pretrained.js';
export { cachedWeightsPath, fetchPretrained, resnetsHome, verifyCachedSync } from './weights-cache.js';
export { BasicBlock, BottleneckBlock, type BlockOptions, type BlockType, type StridePlacement } from './resnet-blocks.js';
export { ResNet, resolveResNetConfig, type BuildOptions, type ResNetConfig, type ResolvedResNetConfig } from './resnet.js';
export { resnetConfigs, imagenetInput, type ResNetOptions } from './resnet-zoo.js';
export {
  CifarResNet,
  ZeroPadShortcut,
  resolveCifarResNetConfig,
  type CifarResNetConfig,
  type CifarResNetOptions,
  type ResolvedCifarResNetConfig,
  type ShortcutOption,
} from './cifar-resnet.js';
export { conv1x1, conv3x3, initResNetWeights, runChain, Stage } from './layers.js';
export { foldBatchNorm, foldBatchNormInto_, fuseConvBn_, fuseForInference, convWeightsToChannelsLast_, type ConvBnPairs, type FuseOptions } from './fuse.js';
