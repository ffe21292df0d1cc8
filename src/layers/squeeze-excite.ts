// Squeeze-and-excitation (Hu et al. 2018) in timm's layout (layers/squeeze_excite.py
// SEModule): global average pool, `fc1` (biased 1x1 conv down to the reduced width),
// activation, `fc2` (biased 1x1 conv back up), gate, and the input scaled by the gate.
import { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { actFactory, relu, sigmoid, type ActFactory, type NormFactory } from './factories.js';

/**
 * timm's make_divisible: `value` rounded to the nearest multiple of `divisor` (at least
 * `minValue`), bumped up one multiple if rounding lost more than (1 - roundLimit).
 */
export function makeDivisible(value: number, divisor = 8, minValue?: number, roundLimit = 0.9): number {
  const floor = minValue ?? divisor;
  let rounded = Math.max(floor, Math.floor((value + divisor / 2) / divisor) * divisor);
  if (rounded < roundLimit * value) rounded += divisor;
  return rounded;
}

export interface SqueezeExciteOptions {
  /** Reduced width as a fraction of the channels (timm's rd_ratio, default 1/16). */
  reduction?: number;
  /** Reduced width given directly (timm's rd_channels); overrides `reduction`. */
  width?: number;
  /** The reduced width is rounded to a multiple of this (timm's rd_divisor, default 8). */
  divisor?: number;
  act?: ActFactory | string;
  gate?: ActFactory | string;
  /** A norm between fc1 and the activation (timm's norm_layer; none by default). */
  norm?: NormFactory | null;
}

export class SqueezeExcite extends Module {
  readonly fc1: Conv2d;
  readonly bn: Module | null;
  readonly act: Module;
  readonly fc2: Conv2d;
  readonly gate: Module;
  readonly width: number;

  constructor(
    readonly channels: number,
    options: SqueezeExciteOptions = {},
  ) {
    super();
    const reduction = options.reduction ?? 1 / 16;
    this.width = options.width ?? makeDivisible(channels * reduction, options.divisor ?? 8, undefined, 0);
    if (!Number.isInteger(this.width) || this.width < 1) throw new Error(`SqueezeExcite: the reduced width must be an integer >= 1, got ${this.width}`);
    this.fc1 = this.registerModule('fc1', new Conv2d(channels, this.width, 1, { bias: true }));
    this.bn = options.norm ? this.registerModule('bn', options.norm(this.width)) : null;
    this.act = this.registerModule('act', actFactory(options.act ?? relu)(this.width));
    this.fc2 = this.registerModule('fc2', new Conv2d(this.width, channels, 1, { bias: true }));
    this.gate = this.registerModule('gate', actFactory(options.gate ?? sigmoid)(channels));
  }

  forward(input: Tensor): Tensor {
    return tidy(() => {
      let squeezed = this.fc1.call(input.mean([2, 3], true));
      if (this.bn) squeezed = this.bn.call(squeezed);
      squeezed = this.fc2.call(this.act.call(squeezed));
      return input.mul(this.gate.call(squeezed));
    });
  }
}

export type AttentionFactory = (channels: number) => Module;

/** Attention layers by name, as timm's create_attn: 'se' or none. */
export function attentionFactory(name: string | null | undefined): AttentionFactory | null {
  if (name === null || name === undefined || name === '') return null;
  if (name === 'se') return (channels) => new SqueezeExcite(channels);
  throw new Error(`unknown attention layer '${name}'; known: 'se'`);
}
