import { ones, zeros, tensor } from '../torch/creation.js';
import { isRecomputing } from '../torch/checkpoint.js';
import { batchNorm } from '../torch/functional.js';
import { noGrad } from '../torch/runtime.js';
import { native } from '../native.js';
import { Tensor } from '../torch/tensor.js';
import { Module } from './module.js';
import { pyBool, pyFloat } from './repr.js';
import type { Parameter } from './parameter.js';

export interface BatchNormOptions {
  eps?: number;
  /** Running-average factor; null uses the cumulative average (num_batches_tracked). */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** Batch normalisation over dimension 1, with PyTorch's buffers and defaults. */
export abstract class BatchNorm extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  /** Synchronise the batch statistics over the ranks of a data-parallel run (SyncBatchNorm; convertSyncBatchNorm sets it). */
  syncStatistics = false;

  constructor(
    readonly numFeatures: number,
    private readonly expectedDims: number[],
    options: BatchNormOptions = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    const affine = options.affine ?? true;
    const track = options.trackRunningStats ?? true;
    // A Parameter shares its source's storage through a handle of its own: free the source's.
    const [weight, bias] = affine ? [ones([numFeatures]), zeros([numFeatures])] : [null, null];
    this.weight = this.registerParameter('weight', weight);
    this.bias = this.registerParameter('bias', bias);
    weight?.dispose();
    bias?.dispose();
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? tensor(0, { dtype: 'int64' }) : null);
  }

  override extraRepr(): string {
    const momentum = this.momentum === null ? 'None' : pyFloat(this.momentum);
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${momentum}, affine=${pyBool(this.weight !== null)}, track_running_stats=${pyBool(this.runningMean !== null)}`;
  }

  forward(input: Tensor): Tensor {
    const shape = input.shape;
    if (!this.expectedDims.includes(shape.length) || shape[1] !== this.numFeatures) {
      throw new Error(`expected a ${this.expectedDims.join('-D or ')}-D input with ${this.numFeatures} channels in dimension 1, got [${shape.join(', ')}]`);
    }
    // A checkpointed segment recomputed in backward normalises with the same batch
    // statistics but must not count the batch a second time.
    if (this.training && isRecomputing()) {
      return batchNorm(input, null, null, { weight: this.weight, bias: this.bias, training: true, eps: this.eps });
    }
    let momentum = this.momentum ?? 0;
    const updateStats = this.training && this.numBatchesTracked !== null;
    if (updateStats) {
      noGrad(() => this.numBatchesTracked!.add_(1));
      if (this.momentum === null) momentum = 1 / this.numBatchesTracked!.item();
    }
    return this.normalize(input, momentum);
  }

  /**
   * Training uses batch statistics and updates the running ones; eval uses the running ones
   * unless the module keeps none. With syncStatistics, training's batch statistics are
   * those of the global batch of the distributed process group (native/distributed.cc).
   */
  protected normalize(input: Tensor, momentum: number): Tensor {
    if (this.syncStatistics && this.training && (native.distInfo()?.worldSize ?? 1) > 1) {
      return new Tensor(native.syncBatchNorm(input.handle, this.weight?.handle, this.bias?.handle, this.runningMean?.handle, this.runningVar?.handle, momentum, this.eps));
    }
    return batchNorm(input, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: this.training || this.runningMean === null,
      momentum,
      eps: this.eps,
    });
  }
}

export class BatchNorm2d extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, [4], options);
  }
}

export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, [2, 3], options);
  }
}
