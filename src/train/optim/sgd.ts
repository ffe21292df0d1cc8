// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay,
// as torch.optim.SGD. The update runs in one native call per group.
import { native } from '../../native.js';
import type { Tensor } from '../../torch/tensor.js';
import { Optimizer, releaseGradients, type ParamGroupInput } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  protected readonly kind = 'sgd';
  momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;

  constructor(params: Tensor[] | ParamGroupInput[], options: SgdOptions) {
    super(params, { lr: options.lr, weightDecay: options.weightDecay ?? 0 });
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (!(this.momentum >= 0)) throw new Error(`SGD momentum must be non-negative, got ${this.momentum}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('Nesterov momentum needs momentum > 0 and dampening 0');
    }
  }

  setMomentum(momentum: number): void {
    this.momentum = momentum;
  }

  protected hyperParameters(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov };
  }

  step(): void {
    this.paramGroups.forEach((group, groupIndex) => {
      const entries = this.gradients(groupIndex);
      try {
        // A momentum buffer starts as a copy of the first gradient, so parameters that
        // get their first gradient now are updated apart from the others.
        const fresh: typeof entries = [];
        const running: typeof entries = [];
        const buffers = new Map<number, Tensor>();
        for (const entry of entries) {
          if (this.momentum === 0) {
            running.push(entry);
            continue;
          }
          const { tensor, created } = this.stateTensor(entry.index, 'momentum_buffer', entry.param);
          buffers.set(entry.index, tensor);
          (created ? fresh : running).push(entry);
        }
        for (const [batch, first] of [[running, false], [fresh, true]] as const) {
          if (batch.length === 0) continue;
          native.sgdStep(
            batch.map((e) => e.param.handle),
            batch.map((e) => e.grad),
            batch.map((e) => (this.momentum === 0 ? e.param.handle : buffers.get(e.index)!.handle)),
            group.lr,
            this.momentum,
            this.dampening,
            batch.map(() => group.weightDecay),
            this.nesterov,
            first,
          );
        }
      } finally {
        releaseGradients(entries);
      }
    });
  }
}
