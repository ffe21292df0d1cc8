// The model zoo: the registry, the residual families and inference-time fusion.
// Importing this module registers every model.
export {
  createAnyModel,
  createAnyModelFromConfig,
  createEmbeddingModel,
  createModel,
  createModelFromConfig,
  isFamily,
  getModelInfo,
  listModels,
  registerFamily,
  registerModel,
  type ModelBuilder,
  type ModelConfig,
  type ModelInfo,
  type ModelOptions,
  type RegisteredModel,
} from './registry.js';
export { ImageClassifier, type InferenceSettings } from './classifier.js';
export { EmbeddingModel, type EmbeddingPreprocessing } from './embedding.js';
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
export { FResNet, fresnetDepths, resolveFResNetConfig, type FResNetConfig, type InputVersion, type ResolvedFResNetConfig } from './fresnet.js';
export { headKinds, type HeadKind } from './fresnet-heads.js';
export { ResidualUnitV1, ResidualUnitV2, ResidualUnitV3, type UnitVersion } from './fresnet-units.js';
export { fresnetConfigFromSymbol, fromMxnetParams, loadMxnetCheckpoint, loadMxnetParamsInto, mxnetNames, toMxnetParams, type MxnetCheckpoint, type MxnetName } from './fresnet-mxnet.js';
export { IBasicBlock, IResNet, iresnetLayers, resolveIResNetConfig, type IResNetConfig, type ResolvedIResNetConfig } from './iresnet.js';
