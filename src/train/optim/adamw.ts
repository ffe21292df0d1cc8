// AdamW (Loshchilov and Hutter): Adam with weight decay applied to the weights directly,
// as torch.optim.AdamW. The update runs in one native call per group and step count.
import { native } from '../../native.js';
import type { Tensor } from '../../torch/tensor.js';
import { Optimizer, releaseGradients, type GradEntry, type ParamGroupInput } from './optimizer.js';

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  /** PyTorch's default is 0.01. */
  weightDecay?: number;
}

export class AdamW extends Optimizer {
  protected readonly kind = 'adamw';
  betas: [number, number];
  readonly eps: number;

  constructor(params: Tensor[] | ParamGroupInput[], options: AdamWOptions) {
    super(params, { lr: options.lr, weightDecay: options.weightDecay ?? 0.01 });
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    for (const beta of this.betas) if (!(beta >= 0 && beta < 1)) throw new Error(`AdamW betas must be in [0, 1), got [${this.betas.join(', ')}]`);
    if (!(this.eps >= 0)) throw new Error(`AdamW eps must be non-negative, got ${this.eps}`);
  }

  setMomentum(beta1: number): void {
    this.betas = [beta1, this.betas[1]];
  }

  protected hyperParameters(): Record<string, number | boolean> {
    return { beta1: this.betas[0], beta2: this.betas[1], eps: this.eps };
  }

  step(): void {
    this.paramGroups.forEach((group, groupIndex) => {
      const entries = this.gradients(groupIndex);
      try {
        // Bias correction depends on each parameter's own step count; parameters that
        // share a count (normally all of them) are updated together.
        const bySteps = new Map<number, GradEntry[]>();
        for (const entry of entries) {
          const steps = (this.counters[entry.index] ?? 0) + 1;
          this.counters[entry.index] = steps;
          const list = bySteps.get(steps) ?? [];
          list.push(entry);
          bySteps.set(steps, list);
        }
        for (const [steps, batch] of bySteps) {
          const expAvg = batch.map((e) => this.stateTensor(e.index, 'exp_avg', e.param).tensor.handle);
          const expAvgSq = batch.map((e) => this.stateTensor(e.index, 'exp_avg_sq', e.param).tensor.handle);
          native.adamwStep(
            batch.map((e) => e.param.handle),
            batch.map((e) => e.grad),
            expAvg,
            expAvgSq,
            steps,
            group.lr,
            this.betas[0],
            this.betas[1],
            this.eps,
            batch.map(() => group.weightDecay),
          );
        }
      } finally {
        releaseGradients(entries);
      }
    });
  }
}
