// Convolution, normalisation, activation: the unit every convolutional family stacks.
// On its own it is timm's ConvNormAct (keys `conv.weight`, `bn.weight`, ...); with other
// names and inlineInto it is torchvision's `conv1` / `bn1` / `relu` inside a block. It
// folds its own BatchNorm for inference, so no block lists which conv feeds which norm.
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { batchNorm2d, relu, type ActFactory, type NormFactory } from './factories.js';
import { foldBatchNormInto_ } from './fold-batchnorm.js';
import { replaceUnitChild, type InlineUnit } from './inline.js';
import { afterFolding } from './norm-act.js';

type AnyModule = Module<unknown, unknown>;

/** Child names: timm's `conv`, `bn`, `act` unless a family's layout says otherwise. */
export interface ConvNormActNames {
  conv?: string;
  norm?: string;
  act?: string;
}

export interface ConvNormActOptions {
  stride?: number;
  /** Default: keeps the size at stride 1 (dilation * (kernel - 1) / 2). */
  padding?: number;
  dilation?: number;
  groups?: number;
  /** Default: a bias only when there is no norm. */
  bias?: boolean;
  /** null: no norm. Default BatchNorm2d. */
  norm?: NormFactory | null;
  /** null: no activation; a Module: that instance (a block's shared ReLU). Default ReLU. */
  act?: ActFactory | Module | null;
  names?: ConvNormActNames;
}

export class ConvNormAct extends Module implements InlineUnit {
  host: AnyModule | null = null;
  readonly names: Required<ConvNormActNames>;
  readonly hasNorm: boolean;
  readonly hasAct: boolean;

  constructor(inChannels: number, outChannels: number, kernelSize: number, options: ConvNormActOptions = {}) {
    super();
    this.names = { conv: 'conv', norm: 'bn', act: 'act', ...options.names };
    const dilation = options.dilation ?? 1;
    const norm = options.norm === undefined ? batchNorm2d : options.norm;
    this.hasNorm = norm !== null;
    this.registerModule(
      this.names.conv,
      new Conv2d(inChannels, outChannels, kernelSize, {
        stride: options.stride ?? 1,
        padding: options.padding ?? Math.floor((dilation * (kernelSize - 1)) / 2),
        dilation,
        groups: options.groups ?? 1,
        bias: options.bias ?? !this.hasNorm,
      }),
    );
    if (norm) this.registerModule(this.names.norm, norm(outChannels));
    const act = options.act === undefined ? relu : options.act;
    this.hasAct = act !== null;
    if (act) this.registerModule(this.names.act, act instanceof Module ? act : act(outChannels));
  }

  get conv(): Conv2d {
    return this.getModule(this.names.conv) as Conv2d;
  }
  /** The norm, or Identity once folded; undefined without a norm. */
  get norm(): Module | undefined {
    return this.getModule(this.names.norm) as Module | undefined;
  }
  get act(): Module | undefined {
    return this.getModule(this.names.act) as Module | undefined;
  }

  forward(input: Tensor): Tensor {
    return this.run(input, { act: true });
  }

  /** `act: false` stops after the norm (a block whose activation follows the residual add). */
  run(input: Tensor, options: { act: boolean }): Tensor {
    let x = this.conv.call(input);
    const norm = this.norm;
    if (norm) x = norm.call(x);
    const act = this.act;
    return options.act && act ? act.call(x) : x;
  }

  /**
   * Folds an eval-mode BatchNorm into the convolution, in place, and puts an Identity in
   * its place (its activation for a BatchNormAct2d; here and in the host). Returns false
   * when there is nothing to fold.
   */
  fold_(): boolean {
    const norm = this.norm;
    if (!(norm instanceof BatchNorm2d) || !norm.runningMean) return false;
    foldBatchNormInto_(this.conv, norm);
    replaceUnitChild(this, this.names.norm, afterFolding(norm));
    norm.dispose();
    return true;
  }
}
