// Parameter groups for weight decay: decay the weights of convolutions and linear
// layers, and (when asked) not the BatchNorm scales and shifts nor any bias, which are
// the 1-D parameters (Goyal et al. 2017; timm's `no_weight_decay`).
import type { Module } from '../../nn/module.js';
import type { ParamGroupInput } from './optimizer.js';

export interface ParamGroupsOptions {
  weightDecay: number;
  /** Leave 1-D parameters (normalisation weights, biases) undecayed. */
  noDecayOnNormAndBias?: boolean;
}

export function paramGroupsFor(model: Module<never, unknown>, options: ParamGroupsOptions): ParamGroupInput[] {
  const trainable = [...model.namedParameters()].filter(([, p]) => p.requiresGrad);
  if (!options.noDecayOnNormAndBias || options.weightDecay === 0) {
    return [{ params: trainable.map(([, p]) => p), weightDecay: options.weightDecay }];
  }
  const decay = trainable.filter(([, p]) => p.ndim > 1).map(([, p]) => p);
  const noDecay = trainable.filter(([, p]) => p.ndim <= 1).map(([, p]) => p);
  return [
    { params: decay, weightDecay: options.weightDecay },
    { params: noDecay, weightDecay: 0 },
  ].filter((group) => group.params.length > 0);
}
