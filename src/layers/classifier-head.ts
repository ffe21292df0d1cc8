// The classifier head every family ends with (timm's ClassifierHead /
// create_classifier): global pooling of a chosen kind, dropout, and a linear layer (or a
// biased 1x1 convolution, as ResNet v2's `head.fc`). numClasses 0 leaves the pooled
// features; globalPool '' leaves the feature map (with a convolutional fc, its logits map).
import { Dropout, Flatten, Identity } from '../nn/basic.js';
import { Conv2d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { pyBool } from '../nn/repr.js';
import { adaptiveAvgPool2d, adaptiveMaxPool2d, cat } from '../torch/functional.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { replaceUnitChild, type InlineUnit } from './inline.js';

type AnyModule = Module<unknown, unknown>;

export type GlobalPool = 'avg' | 'max' | 'avgmax' | 'catavgmax' | '';
export const globalPoolTypes: readonly GlobalPool[] = ['avg', 'max', 'avgmax', 'catavgmax', ''];

/** timm's SelectAdaptivePool2d: the pooling kind by name, flattened to [N, C] unless told not to. */
export class SelectAdaptivePool2d extends Module {
  constructor(
    readonly poolType: GlobalPool = 'avg',
    readonly flatten = true,
  ) {
    super();
    if (!globalPoolTypes.includes(poolType)) {
      throw new Error(`globalPool must be one of ${globalPoolTypes.map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(poolType)}`);
    }
  }
  override extraRepr(): string {
    return `pool_type=${this.poolType}, flatten=${pyBool(this.flatten)}`;
  }
  /** Channels out for `channels` in: catavgmax doubles them. */
  outChannels(channels: number): number {
    return this.poolType === 'catavgmax' ? 2 * channels : channels;
  }
  forward(input: Tensor): Tensor {
    if (this.poolType === '') return input;
    return tidy(() => {
      let pooled: Tensor;
      if (this.poolType === 'avg') pooled = adaptiveAvgPool2d(input, 1);
      else if (this.poolType === 'max') pooled = adaptiveMaxPool2d(input, 1);
      else {
        const [avg, max] = [adaptiveAvgPool2d(input, 1), adaptiveMaxPool2d(input, 1)];
        pooled = this.poolType === 'avgmax' ? avg.add(max).mul(0.5) : cat([avg, max], 1);
      }
      return this.flatten ? pooled.flatten(1) : pooled;
    });
  }
}

export interface ClassifierHeadNames {
  pool?: string;
  drop?: string;
  fc?: string;
  flatten?: string;
}

export interface ClassifierHeadOptions {
  globalPool?: GlobalPool;
  dropRate?: number;
  /** A biased 1x1 convolution instead of a Linear layer (timm's use_conv). */
  useConv?: boolean;
  /** Child names: timm's `global_pool`, `drop`, `fc`, `flatten` unless a family's layout says otherwise. */
  names?: ClassifierHeadNames;
}

export class ClassifierHead extends Module implements InlineUnit {
  host: AnyModule | null = null;
  readonly names: Required<ClassifierHeadNames>;
  readonly useConv: boolean;
  readonly dropRate: number;
  #numClasses = 0;

  constructor(
    readonly inFeatures: number,
    numClasses: number,
    options: ClassifierHeadOptions = {},
  ) {
    super();
    this.names = { pool: 'global_pool', drop: 'drop', fc: 'fc', flatten: 'flatten', ...options.names };
    this.useConv = options.useConv ?? false;
    this.dropRate = options.dropRate ?? 0;
    if (!(this.dropRate >= 0 && this.dropRate < 1)) throw new Error(`dropRate must be in [0, 1), got ${this.dropRate}`);
    this.#build(numClasses, options.globalPool ?? 'avg', false);
  }

  get numClasses(): number {
    return this.#numClasses;
  }
  get pool(): SelectAdaptivePool2d {
    return this.getModule(this.names.pool) as SelectAdaptivePool2d;
  }
  get fc(): Module {
    return this.getModule(this.names.fc) as Module;
  }
  get globalPool(): GlobalPool {
    return this.pool.poolType;
  }
  /** Width of the pre-logits features (catavgmax doubles the channels). */
  get numFeatures(): number {
    return this.pool.outChannels(this.inFeatures);
  }

  /** A new fc for `numClasses` (0: none), and a new pooling when `globalPool` is given. */
  reset(numClasses: number, globalPool?: GlobalPool): void {
    const old = this.getModule(this.names.fc);
    this.#build(numClasses, globalPool ?? this.globalPool, true);
    old?.dispose();
  }

  #build(numClasses: number, globalPool: GlobalPool, replacing: boolean): void {
    if (!Number.isInteger(numClasses) || numClasses < 0) throw new Error(`numClasses must be an integer >= 0, got ${JSON.stringify(numClasses)}`);
    if (globalPool === '' && numClasses > 0 && !this.useConv) {
      throw new Error("globalPool '' (no pooling) needs numClasses 0 or a convolutional classifier: a linear layer needs pooled features");
    }
    const pool = new SelectAdaptivePool2d(globalPool, !this.useConv);
    const features = pool.outChannels(this.inFeatures);
    const fc =
      numClasses === 0 ? new Identity() : this.useConv ? new Conv2d(features, numClasses, 1, { bias: true }) : new Linear(features, numClasses);
    const set = (name: string, module: AnyModule) => (replacing ? replaceUnitChild(this, name, module) : this.registerModule(name, module));
    set(this.names.pool, pool);
    if (this.dropRate > 0 && !replacing) this.registerModule(this.names.drop, new Dropout(this.dropRate));
    set(this.names.fc, fc);
    // A convolutional fc on a pooled map leaves [N, classes, 1, 1]; flattened after it, as timm does.
    if (this.useConv) set(this.names.flatten, globalPool === '' ? new Identity() : new Flatten(1));
    this.#numClasses = numClasses;
  }

  forward(input: Tensor): Tensor {
    return this.run(input, { preLogits: false });
  }

  /** `preLogits`: stop after pooling and dropout (the fc's input, flattened). */
  run(input: Tensor, options: { preLogits: boolean }): Tensor {
    return tidy(() => {
      let x = this.pool.call(input);
      const drop = this.getModule(this.names.drop) as Module | undefined;
      if (drop) x = drop.call(x);
      const flatten = this.useConv ? (this.getModule(this.names.flatten) as Module) : null;
      if (options.preLogits) return flatten ? flatten.call(x) : x;
      x = this.fc.call(x);
      return flatten ? flatten.call(x) : x;
    });
  }
}
