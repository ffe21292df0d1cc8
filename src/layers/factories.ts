// How blocks receive their activation, norm and attention: as factories, so a family
// (or a user) swaps ReLU for PReLU or BatchNorm for another norm without a new block.
import { PReLU, ReLU, Sigmoid } from '../nn/activation.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Identity } from '../nn/basic.js';
import type { Module } from '../nn/module.js';

/** A new activation module; `channels` is there for per-channel activations (PReLU). */
export type ActFactory = (channels: number) => Module;
/** A new normalisation over `channels` feature maps. */
export type NormFactory = (channels: number) => Module;

export const relu: ActFactory = () => new ReLU(true);
export const prelu: ActFactory = (channels) => new PReLU(channels);
export const sigmoid: ActFactory = () => new Sigmoid();
export const identity: ActFactory = () => new Identity();
export const batchNorm2d: NormFactory = (channels) => new BatchNorm2d(channels);

const activations: Record<string, ActFactory> = { relu, prelu, sigmoid, identity };

/** An activation by name ('relu', 'prelu', 'sigmoid', 'identity') or a factory as is. */
export function actFactory(act: string | ActFactory): ActFactory {
  if (typeof act === 'function') return act;
  const factory = activations[act];
  if (!factory) throw new Error(`unknown activation '${act}'; known: ${Object.keys(activations).join(', ')}`);
  return factory;
}
