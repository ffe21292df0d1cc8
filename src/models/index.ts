// The model zoo: the registry, the residual families and inference-time fusion.
// Importing this module registers every model.
export { createModel, createModelFromConfig, families, type AnyModelConfig, type ModelName, type OptionsFor, type PretrainedOption } from './zoo.js';
export { createPretrainedModel } from './pretrained-model.js';
export {
  acceptedOptions,
  createClassifierByName,
  createEmbeddingModelByName,
  createModelByName,
  findModelInfo,
  createModelFromConfigByName,
  familyDefinition,
  getModelInfo,
  listFamilies,
  listModels,
  registerFamily,
  type ModelInfo,
  type ModelOptions,
} from './registry.js';
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
export { defineFamily, type AnyFamily, type BuildOnlyOptions, type CommonConfig, type FamilyDefinition, type PretrainedConfig, type VariantDefinition } from './family.js';
export { ImageClassifier, type FeatureInfo, type GradCheckpointingOptions, type InferenceSettings, type ResolvedCommonConfig, type TrunkStep } from './classifier.js';
export { FeatureListNet } from './features.js';
export { BasicBlock, BottleneckBlock, type BlockOptions, type BlockType, type StridePlacement } from './resnet-blocks.js';
export { ResNet, resolveResNetConfig, resnetFamily, imagenetInput, type ResNetConfig, type ResolvedResNetConfig, type StemType } from './resnet.js';
export { ResNetV2, PreActBasic, PreActBottleneck, resnetV2Family, resolveResNetV2Config, type ResNetV2Config, type ResNetV2StemType, type ResolvedResNetV2Config } from './resnetv2.js';
export {
  CifarResNet,
  ZeroPadShortcut,
  cifarResNetFamily,
  resolveCifarResNetConfig,
  type CifarResNetConfig,
  type ResolvedCifarResNetConfig,
  type ShortcutOption,
} from './cifar-resnet.js';
export {
  DenseBlock,
  DenseLayer,
  DenseNet,
  Transition,
  denseNetFamily,
  filterTorchvisionDenseNetKeys,
  initDenseNetWeights,
  resolveDenseNetConfig,
  type DenseNetConfig,
  type ResolvedDenseNetConfig,
} from './densenet.js';
export {
  ConvUnit,
  FractalBlock,
  FractalExpansion,
  FractalNet,
  fractalNetFamily,
  initFractalNetWeights,
  join,
  resolveFractalNetConfig,
  sampleJoin,
  type FractalNetConfig,
  type PathPlan,
  type ResolvedFractalNetConfig,
} from './fractalnet.js';
export { conv1x1, conv3x3, dilatedStages, initResNetWeights, planStages, runChain, Stage, type StagePlan } from './layers.js';
export { foldBatchNorm, foldBatchNormInto_, fuseConvBn_, fuseForInference, convWeightsToChannelsLast_, type FuseOptions } from './fuse.js';
export { loadCheckpoint, adaptInputConv, type LoadCheckpointOptions } from './load.js';
export { EmbeddingModel, type EmbeddingConfig, type EmbeddingPreprocessing } from './embedding.js';
export { FResNet, fresnetDepths, fresnetFamily, resolveFResNetConfig, type FResNetConfig, type InputVersion, type ResolvedFResNetConfig } from './fresnet.js';
export { headKinds, type HeadKind } from './fresnet-heads.js';
export { ResidualUnitV1, ResidualUnitV2, ResidualUnitV3, type UnitVersion } from './fresnet-units.js';
export { fresnetConfigFromSymbol, loadMxnetCheckpoint, loadMxnetParamsInto, type MxnetCheckpoint } from './fresnet-mxnet.js';
export { fromMxnetParams, looksLikeMxnetParams, mxnetNames, toMxnetParams, type MxnetName } from './mxnet-names.js';
export { IBasicBlock, IResNet, iresnetFamily, resolveIResNetConfig, type IResNetConfig, type ResolvedIResNetConfig } from './iresnet.js';
export { MxnetResNeXt, ResNeXtUnit, loadMxnetResNeXtCheckpoint, toTorchvisionLayout, torchvisionKeyOf, mxnetResNeXtConfigFromSymbol, mxnetResNeXtFamily, resolveMxnetResNeXtConfig, type MxnetResNeXtConfig, type ResolvedMxnetResNeXtConfig } from './mxnet-resnext.js';
export { loadTorchvisionIntoMxnetResNeXt, mxnetResNeXtSymbol, mxnetResNeXtToTorchvision, saveMxnetResNeXtCheckpoint, saveMxnetResNeXtSymbol, TORCHVISION_EPS, type FromTorchvisionOptions, type FromTorchvisionResult } from './mxnet-resnext-convert.js';
