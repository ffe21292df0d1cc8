// Inference-only speed-ups that keep outputs within float rounding of the eval model:
// BatchNorm folded into the convolution before it, channels-last memory, no autograd.
//
// Folding: in eval mode bn(conv(x)) = conv'(x) with
//   w' = w * gamma / sqrt(var + eps),   b' = (b - mean) * gamma / sqrt(var + eps) + beta.
// Which convolution feeds which BatchNorm is read from the structure: consecutive
// Conv2d -> BatchNorm2d children of a Sequential, and the pairs a module lists in
// convBnPairs() (a block knows its conv1 feeds only bn1).
import { Identity } from '../nn/basic.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import type { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { Sequential } from '../nn/sequential.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { ImageClassifier } from './classifier.js';

type AnyModule = Module<unknown, unknown>;

/** A module whose child convolution `conv` feeds only its child BatchNorm `bn`, for each listed pair. */
export interface ConvBnPairs {
  convBnPairs(): [conv: string, bn: string][];
}

function listsPairs(module: AnyModule): module is AnyModule & ConvBnPairs {
  return typeof (module as Partial<ConvBnPairs>).convBnPairs === 'function';
}

function checkFoldable(conv: Conv2d, bn: BatchNorm2d): void {
  if (!bn.runningMean || !bn.runningVar) throw new Error('foldBatchNorm: the BatchNorm keeps no running statistics, so eval mode has nothing to fold');
  if (bn.numFeatures !== conv.outChannels) {
    throw new Error(`foldBatchNorm: the convolution has ${conv.outChannels} output channels, the BatchNorm ${bn.numFeatures}`);
  }
}

/**
 * Per output channel: the factor for the weight and the new bias, in the weight's dtype.
 * They are computed in float64 and rounded once; scaling the weight then rounds once
 * per element.
 */
function foldFactors(conv: Conv2d, bn: BatchNorm2d): { scale: Tensor; bias: Tensor } {
  const dtype = conv.weight.dtype;
  let scale = bn.runningVar!.double().add(bn.eps).rsqrt();
  if (bn.weight) scale = scale.mul(bn.weight.double());
  let bias = (conv.bias ? conv.bias.double().sub(bn.runningMean!.double()) : bn.runningMean!.double().neg()).mul(scale);
  if (bn.bias) bias = bias.add(bn.bias.double());
  return { scale: scale.to(dtype).reshape([-1, 1, 1, 1]), bias: bias.to(dtype) };
}

/** A new convolution that computes `bn(conv(x))` of the eval-mode BatchNorm; both inputs are left as they are. */
export function foldBatchNorm(conv: Conv2d, bn: BatchNorm2d): Conv2d {
  checkFoldable(conv, bn);
  return noGrad(() =>
    tidy(() => {
      const { scale, bias } = foldFactors(conv, bn);
      const folded = new Conv2d(conv.inChannels, conv.outChannels, conv.kernelSize, {
        stride: conv.stride,
        padding: conv.padding,
        dilation: conv.dilation,
        groups: conv.groups,
        bias: true,
      });
      folded.to(conv.weight.device).to(conv.weight.dtype);
      folded.weight.copy_(conv.weight.mul(scale));
      folded.bias!.copy_(bias);
      return folded;
    }),
  );
}

/**
 * Folds the eval-mode BatchNorm into `conv` itself: its weight is scaled in place and
 * it gains (or updates) a bias. No new weight is allocated, which matters for
 * the large models. Returns `conv`.
 */
export function foldBatchNormInto_(conv: Conv2d, bn: BatchNorm2d): Conv2d {
  checkFoldable(conv, bn);
  noGrad(() =>
    tidy(() => {
      const { scale, bias } = foldFactors(conv, bn);
      conv.weight.mul_(scale);
      if (conv.bias) {
        conv.bias.copy_(bias);
      } else {
        // Conv2d reads its bias from the field; the registration puts it in the state dict.
        (conv as { bias: Parameter | null }).bias = conv.registerParameter('bias', bias);
      }
    }),
  );
  return conv;
}

function fuseListedPairs(module: AnyModule & ConvBnPairs): void {
  for (const [convName, bnName] of module.convBnPairs()) {
    const conv = module.getModule(convName);
    const bn = module.getModule(bnName);
    if (!(conv instanceof Conv2d) || !(bn instanceof BatchNorm2d) || !bn.runningMean) continue;
    foldBatchNormInto_(conv, bn);
    module.setSubmodule(bnName, new Identity());
    bn.dispose();
  }
}

/**
 * A plain Sequential rebuilt from its (possibly replaced) children with each
 * Conv2d -> BatchNorm2d run folded, or null when nothing changed.
 */
function fuseSequential(sequential: Sequential, childReplaced: boolean): Sequential | null {
  const entries = [...sequential.namedChildren()] as [string, Module][];
  let changed = childReplaced;
  for (let i = 0; i + 1 < entries.length; i++) {
    const [, conv] = entries[i];
    const [bnName, bn] = entries[i + 1];
    if (!(conv instanceof Conv2d) || !(bn instanceof BatchNorm2d) || !bn.runningMean) continue;
    foldBatchNormInto_(conv, bn);
    entries[i + 1] = [bnName, new Identity()];
    bn.dispose();
    changed = true;
  }
  return changed ? Sequential.fromEntries(entries) : null;
}

function fuseTree(module: AnyModule): AnyModule {
  let childReplaced = false;
  for (const [name, child] of [...module.namedChildren()]) {
    const fused = fuseTree(child);
    if (fused === child) continue;
    if (module instanceof Sequential && module.constructor !== Sequential) {
      throw new Error(`cannot fuse inside ${module.constructor.name}: its child '${name}' would need replacing`);
    }
    module.setSubmodule(name, fused);
    childReplaced = true;
  }
  if (listsPairs(module)) fuseListedPairs(module);
  // A plain Sequential is rebuilt (its run order is private); a subclass may run its
  // children differently, so only its children are fused.
  if (module.constructor === Sequential) return fuseSequential(module as unknown as Sequential, childReplaced) ?? module;
  return module;
}

/**
 * Folds every BatchNorm that directly follows a convolution into it, in place; the
 * folded BatchNorms become Identity. Returns the root (a new one if the root itself was
 * a Sequential that changed). The result is for eval mode only.
 */
export function fuseConvBn_<M extends AnyModule>(root: M): M {
  return fuseTree(root) as M;
}

/** Stores every 4-D convolution weight in channels-last (NHWC) order, in place. */
export function convWeightsToChannelsLast_(root: AnyModule): void {
  noGrad(() => {
    for (const [, module] of root.namedModules()) {
      if (!(module instanceof Conv2d)) continue;
      const weight: Tensor = module.weight;
      const requiresGrad = weight.requiresGrad;
      weight.replaceWith(weight.contiguous('channelsLast'));
      weight.requiresGrad = requiresGrad;
    }
  });
}

export interface FuseOptions {
  /** Run convolutions in channels-last memory (models of the zoo then convert inputs on entry). */
  channelsLast?: boolean;
  /** Fuse `model` itself instead of a copy (saves memory; the original cannot train afterwards). */
  inPlace?: boolean;
}

function canClone(model: object): model is { clone(): Module } {
  return typeof (model as { clone?: unknown }).clone === 'function';
}

/**
 * An inference-only version of `model`: BatchNorm folded into the convolutions, eval
 * mode, optionally channels-last weights. Its outputs equal the eval-mode model's to
 * float rounding. A model of the zoo (an ImageClassifier) is copied unless `inPlace`,
 * then runs without autograd and converts its inputs to channels-last when asked; any
 * other module without a clone() method is fused in place.
 */
export function fuseForInference<M extends Module>(model: M, options: FuseOptions = {}): M {
  if (model instanceof ImageClassifier && model.inferenceOnly) throw new Error(`${model.name} is already fused for inference`);
  const target = (options.inPlace || !canClone(model) ? model : model.clone()) as M;
  target.eval();
  const fused = fuseConvBn_(target);
  const channelsLast = options.channelsLast ?? false;
  if (channelsLast) convWeightsToChannelsLast_(fused);
  for (const parameter of fused.parameters()) parameter.requiresGrad = false;
  if (fused instanceof ImageClassifier) fused.markInferenceOnly({ channelsLast });
  return fused.eval();
}
