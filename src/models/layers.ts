// Building pieces the residual families share: torchvision's conv3x3 / conv1x1, a stage
// that frees each block's output once the next block has consumed it, and the
// torchvision weight initialisation.
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { constant_, kaimingNormal_, type FanMode } from '../nn/init.js';
import type { Module } from '../nn/module.js';
import { Sequential } from '../nn/sequential.js';
import type { Tensor } from '../torch/tensor.js';

export interface ConvOptions {
  stride?: number;
  groups?: number;
  dilation?: number;
}

/** 3x3 convolution without bias, padded to keep the size at stride 1. */
export function conv3x3(inChannels: number, outChannels: number, options: ConvOptions = {}): Conv2d {
  const dilation = options.dilation ?? 1;
  return new Conv2d(inChannels, outChannels, 3, {
    stride: options.stride ?? 1,
    padding: dilation,
    dilation,
    groups: options.groups ?? 1,
    bias: false,
  });
}

/** 1x1 convolution without bias. */
export function conv1x1(inChannels: number, outChannels: number, stride = 1): Conv2d {
  return new Conv2d(inChannels, outChannels, 1, { stride, bias: false });
}

/**
 * Calls `modules` in order. Each intermediate output is freed as soon as the next
 * module has used it (unless someone kept it, e.g. a hook that collects features),
 * so a deep stage holds one activation at a time, as PyTorch's reference counting does.
 */
export function runChain(input: Tensor, modules: Iterable<Module<Tensor, Tensor>>): Tensor {
  let x = input;
  for (const module of modules) {
    const next = module.call(x);
    if (x !== input && next !== x && !x.kept) x.dispose();
    x = next;
  }
  return x;
}

/** Where a stage strides, or (once the network's stride has reached the output stride) dilates instead. */
export interface StagePlan {
  /** Stride of the stage's first block. */
  stride: number;
  /** Dilation of the stage's blocks ... */
  dilation: number;
  /** ... and of the first block's first spatial convolution (the previous stage's dilation, as timm's first_dilation). */
  firstDilation: number;
  /** The network's stride at the stage's output. */
  reduction: number;
}

/**
 * timm's make_blocks rule, as torchvision's replace_stride_with_dilation: `dilate[i]`
 * turns stage i's stride into dilation. `stemStride` is the stride before the first stage.
 */
export function planStages(stageStrides: readonly number[], stemStride: number, dilate: readonly boolean[]): StagePlan[] {
  let reduction = stemStride;
  let dilation = 1;
  return stageStrides.map((stageStride, i) => {
    const firstDilation = dilation;
    let stride = stageStride;
    if (dilate[i]) {
      dilation *= stride;
      stride = 1;
    } else {
      reduction *= stride;
    }
    return { stride, dilation, firstDilation, reduction };
  });
}

/** Which stages an output stride dilates: those that start once the network's stride has reached it. */
export function dilatedStages(stageStrides: readonly number[], stemStride: number, outputStride: number): boolean[] {
  let reduction = stemStride;
  return stageStrides.map((stride) => {
    if (reduction >= outputStride) return stride > 1;
    reduction *= stride;
    return false;
  });
}

/** A stage of residual blocks, keyed '0', '1', ... as torchvision's layer1..layer4. */
export class Stage extends Sequential {
  override forward(input: Tensor): Tensor {
    return runChain(input, this);
  }
}

/** Residual blocks name the BatchNorm whose weight zeroInitResidual sets to 0. */
export interface ResidualBranch {
  readonly lastNorm: Module;
}

/**
 * torchvision's ResNet initialisation: He-normal convolutions (fan-out, ReLU gain; the
 * CIFAR ResNets use the paper's fan-in),
 * BatchNorm weight 1 and bias 0, Linear layers keep their defaults. With
 * `zeroInitResidual` each block's last BatchNorm starts at 0, so every residual branch
 * starts as the identity (Goyal et al. 2017).
 */
export function initResNetWeights(model: Module<unknown, unknown>, zeroInitResidual: boolean, mode: FanMode = 'fanOut'): void {
  for (const [, module] of model.namedModules()) {
    if (module instanceof Conv2d) {
      kaimingNormal_(module.weight, { mode, nonlinearity: 'relu' });
    } else if (module instanceof BatchNorm2d) {
      if (module.weight) constant_(module.weight, 1);
      if (module.bias) constant_(module.bias, 0);
    }
  }
  if (!zeroInitResidual) return;
  for (const [, module] of model.namedModules()) {
    const norm = (module as Partial<ResidualBranch>).lastNorm;
    if (norm instanceof BatchNorm2d && norm.weight) constant_(norm.weight, 0);
  }
}
