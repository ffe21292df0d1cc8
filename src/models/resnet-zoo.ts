// The standard ResNet, ResNeXt and Wide ResNet configurations, registered under
// torchvision's names. ResNeXt and Wide ResNet are bottleneck ResNets with other
// `groups` / `widthPerGroup`, not separate code.
import { ImageClassifier } from './classifier.js';
import { commonOptionNames, rejectUnknownOptions } from './options.js';
import { registerFamily, registerModel, type ModelConfig, type ModelInfo, type ModelOptions } from './registry.js';
import { ResNet, type ResNetConfig } from './resnet.js';

const papers = {
  resnet: 'He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016 (arXiv:1512.03385)',
  resnext: 'Xie, Girshick, Dollar, Tu, He. Aggregated Residual Transformations for Deep Neural Networks. CVPR 2017 (arXiv:1611.05431)',
  wide_resnet: 'Zagoruyko, Komodakis. Wide Residual Networks. BMVC 2016 (arXiv:1605.07146)',
};

/** ImageNet input as torchvision's weights expect it. */
export const imagenetInput = {
  defaultInputSize: [3, 224, 224] as [number, number, number],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  cropPct: 0.875,
  numClasses: 1000,
};

interface ZooEntry {
  family: keyof typeof papers;
  config: Omit<ResNetConfig, 'name'>;
  description: string;
}

export const resnetConfigs: Record<string, ZooEntry> = {
  resnet18: { family: 'resnet', config: { block: 'basic', depths: [2, 2, 2, 2] }, description: 'ResNet-18: basic blocks, 2-2-2-2' },
  resnet34: { family: 'resnet', config: { block: 'basic', depths: [3, 4, 6, 3] }, description: 'ResNet-34: basic blocks, 3-4-6-3' },
  resnet50: { family: 'resnet', config: { block: 'bottleneck', depths: [3, 4, 6, 3] }, description: 'ResNet-50: bottleneck blocks, 3-4-6-3' },
  resnet101: { family: 'resnet', config: { block: 'bottleneck', depths: [3, 4, 23, 3] }, description: 'ResNet-101: bottleneck blocks, 3-4-23-3' },
  resnet152: { family: 'resnet', config: { block: 'bottleneck', depths: [3, 8, 36, 3] }, description: 'ResNet-152: bottleneck blocks, 3-8-36-3' },
  resnext50_32x4d: {
    family: 'resnext',
    config: { block: 'bottleneck', depths: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 },
    description: 'ResNeXt-50 32x4d: cardinality 32, 4 channels per group',
  },
  resnext101_32x8d: {
    family: 'resnext',
    config: { block: 'bottleneck', depths: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 },
    description: 'ResNeXt-101 32x8d: cardinality 32, 8 channels per group',
  },
  resnext101_64x4d: {
    family: 'resnext',
    config: { block: 'bottleneck', depths: [3, 4, 23, 3], groups: 64, widthPerGroup: 4 },
    description: 'ResNeXt-101 64x4d: cardinality 64, 4 channels per group',
  },
  wide_resnet50_2: {
    family: 'wide_resnet',
    config: { block: 'bottleneck', depths: [3, 4, 6, 3], widthPerGroup: 128 },
    description: 'Wide ResNet-50-2: ResNet-50 with twice the bottleneck width',
  },
  wide_resnet101_2: {
    family: 'wide_resnet',
    config: { block: 'bottleneck', depths: [3, 4, 23, 3], widthPerGroup: 128 },
    description: 'Wide ResNet-101-2: ResNet-101 with twice the bottleneck width',
  },
};

/** Options a registered ResNet accepts on top of its table entry. */
export interface ResNetOptions extends ModelOptions {
  zeroInitResidual?: boolean;
  replaceStrideWithDilation?: boolean[];
  groups?: number;
  widthPerGroup?: number;
  strideOn?: '3x3' | '1x1';
}

const acceptedOptions = [...commonOptionNames, 'zeroInitResidual', 'replaceStrideWithDilation', 'groups', 'widthPerGroup', 'strideOn'];

function buildRegistered(name: string, options: ResNetOptions): ResNet {
  rejectUnknownOptions(name, options, acceptedOptions);
  const { init, ...overrides } = options;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  return new ResNet({ ...resnetConfigs[name].config, ...defined, name }, { init: init as boolean | undefined });
}

for (const [name, entry] of Object.entries(resnetConfigs)) {
  const info: ModelInfo = { name, family: entry.family, paper: papers[entry.family], description: entry.description, ...imagenetInput };
  registerModel(info, buildRegistered);
}

registerFamily('resnet', (config: ModelConfig): ImageClassifier => new ResNet(config as ResNetConfig));
