// Inference-only speed-ups that keep outputs within float rounding of the eval model:
// BatchNorm folded into the convolution before it, channels-last memory, no autograd.
//
// Folding: in eval mode bn(conv(x)) = conv'(x) with
//   w' = w * gamma / sqrt(var + eps),   b' = (b - mean) * gamma / sqrt(var + eps) + beta.
// Which convolution feeds which BatchNorm is read from the structure: consecutive
// Conv2d -> BatchNorm2d children of a Sequential, and every ConvNormAct unit (standalone
// or inlined into a block), which folds its own norm.
import { ConvNormAct } from '../layers/conv-norm-act.js';
import { foldBatchNormInto_ } from '../layers/fold-batchnorm.js';
import { inlinedUnits } from '../layers/inline.js';
import { afterFolding } from '../layers/norm-act.js';
import { replaceChild } from '../layers/replace.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import type { Module } from '../nn/module.js';
import { Sequential } from '../nn/sequential.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { ImageClassifier } from './classifier.js';

type AnyModule = Module<unknown, unknown>;

export { foldBatchNorm, foldBatchNormInto_ } from '../layers/fold-batchnorm.js';

/** Folds the BatchNorm of every conv-norm-act unit this module is or hosts. */
function foldUnits(module: AnyModule): void {
  if (module instanceof ConvNormAct) module.fold_();
  for (const unit of inlinedUnits(module)) if (unit instanceof ConvNormAct) unit.fold_();
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
    entries[i + 1] = [bnName, afterFolding(bn)];
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
  foldUnits(module);
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
