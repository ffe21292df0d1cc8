// Augmentation beyond crops and flips: torchvision's RandAugment, TrivialAugment Wide,
// ColorJitter and RandomErasing, and the pixel ops they are made of.
export { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, adjustSharpness, affine, autocontrast, equalize, posterize, rotate, solarize, type AffineOptions } from './pixel-ops.js';
export { applyAugmentOp, augmentOpNames, randAugment, randAugmentSpace, trivialAugmentSpace, trivialAugmentWide, type AugmentOpName, type AugmentationSpace, type OpMagnitudes, type RandAugmentOptions, type TrivialAugmentOptions } from './rand-augment.js';
export { colorJitter, type ColorJitterOptions } from './color-jitter.js';
export { randomErasing, type RandomErasingOptions, type TensorTransform } from './random-erasing.js';
