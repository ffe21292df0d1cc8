// Optimisers over the engine's tensors.
export { Optimizer, type OptimizerState, type OptimizerMeta, type ParamGroup, type ParamGroupInput } from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { AdamW, type AdamWOptions } from './adamw.js';
export { paramGroupsFor, type ParamGroupsOptions } from './groups.js';
export { clipGradNorm } from './clip.js';
export { RMSprop, RMSpropTF, type RmspropOptions } from './rmsprop.js';
export { Lamb, type LambOptions } from './lamb.js';
