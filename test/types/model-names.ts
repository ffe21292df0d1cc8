// Compile-time checks of model names and options: `npx tsc -p test/types` must pass,
// and every @ts-expect-error line must be an error.
import { createModel, createModelFromConfig, models } from '../../src/index.js';

const resnet = createModel('resnet50', { numClasses: 3 });
resnet.resetClassifier(5);
const se: models.ResNet = createModel('seresnet50');
const cifar: models.CifarResNet = createModel('resnet20', { shortcut: 'B' });
const backbone: models.FeatureListNet = createModel('resnet18', { featuresOnly: true, outIndices: [1, 2] });
createModelFromConfig({ block: 'basic', depths: [1, 1] });
createModelFromConfig({ family: 'cifar_resnet', depth: 8, widths: [8, 16] });
// A name known only at run time goes through the untyped path.
const fromCli: string = 'resnet18';
models.createModelByName(fromCli, { numClasses: 2 });

// @ts-expect-error: a misspelled name
createModel('resnet5O');
// @ts-expect-error: a misspelled option
createModel('resnet50', { numClass: 3 });
// @ts-expect-error: an option of another family
createModel('resnet20', { strideOn: '1x1' });
// @ts-expect-error: a value outside the option's type
createModel('resnet50', { strideOn: '5x5' });
// @ts-expect-error: a plain string is not a model name
createModel(fromCli);
// @ts-expect-error: a CIFAR option in a ResNet config
createModelFromConfig({ family: 'resnet', block: 'basic', depths: [1], shortcut: 'A' });

export { resnet, se, cifar, backbone };
