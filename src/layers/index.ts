// Building blocks shared by the families (as timm's layers/): conv-norm-act units,
// squeeze-and-excitation, drop-path, the classifier head, and the factories blocks take.
export { ConvNormAct, type ConvNormActNames, type ConvNormActOptions } from './conv-norm-act.js';
export { SqueezeExcite, makeDivisible, attentionFactory, type AttentionFactory, type SqueezeExciteOptions } from './squeeze-excite.js';
export { DropPath, dropPath, dropPathRates } from './drop-path.js';
export { ClassifierHead, SelectAdaptivePool2d, globalPoolTypes, type ClassifierHeadNames, type ClassifierHeadOptions, type GlobalPool } from './classifier-head.js';
export { actFactory, batchNorm2d, identity, prelu, relu, sigmoid, type ActFactory, type NormFactory } from './factories.js';
export { inlineInto, inlinedUnits, replaceUnitChild, type InlineUnit } from './inline.js';
export { replaceChild } from './replace.js';
export { foldBatchNorm, foldBatchNormInto_ } from './fold-batchnorm.js';
export { BatchNormAct2d } from './norm-act.js';
export { AvgPool2dSame, avgDownPool } from './avg-down.js';
