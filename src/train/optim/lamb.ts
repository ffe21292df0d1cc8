// LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning"), the NVLAMB form
// timm's Lamb implements: Adam moments on gradients divided by their global norm when it
// exceeds maxGradNorm, L2 weight decay added to the update, and a per-tensor trust
// ratio ||w|| / ||update|| scaling the step of every decayed parameter.
import { noGrad } from '../../torch/runtime.js';
import { tidy } from '../../torch/scope.js';
import type { Tensor } from '../../torch/tensor.js';
import { Optimizer, type ParamGroupInput } from './optimizer.js';

export interface LambOptions {
  lr: number;
  betas?: [number, number];
  /** Default 1e-6. */
  eps?: number;
  /** Default 0.01; parameters with none skip the trust ratio unless alwaysAdapt. */
  weightDecay?: number;
  /** Scale the gradient's running mean by (1 - beta1) (default true). */
  gradAveraging?: boolean;
  /** Divide every gradient by globalNorm / maxGradNorm when that exceeds 1 (default 1; null turns it off). */
  maxGradNorm?: number | null;
  /** LAMBC: cap the trust ratio at 1. */
  trustClip?: boolean;
  /** Apply the trust ratio to undecayed parameters too. */
  alwaysAdapt?: boolean;
  /** Adam's bias correction (default true). */
  biasCorrection?: boolean;
}

export class Lamb extends Optimizer {
  protected readonly kind = 'lamb';
  betas: [number, number];
  readonly eps: number;
  readonly gradAveraging: boolean;
  readonly maxGradNorm: number | null;
  readonly trustClip: boolean;
  readonly alwaysAdapt: boolean;
  readonly biasCorrection: boolean;

  constructor(params: Tensor[] | ParamGroupInput[], options: LambOptions) {
    super(params, { lr: options.lr, weightDecay: options.weightDecay ?? 0.01 });
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-6;
    this.gradAveraging = options.gradAveraging ?? true;
    this.maxGradNorm = options.maxGradNorm === undefined ? 1 : options.maxGradNorm;
    this.trustClip = options.trustClip ?? false;
    this.alwaysAdapt = options.alwaysAdapt ?? false;
    this.biasCorrection = options.biasCorrection ?? true;
    for (const beta of this.betas) if (!(beta >= 0 && beta < 1)) throw new Error(`Lamb betas must be in [0, 1), got [${this.betas.join(', ')}]`);
    if (!(this.eps >= 0)) throw new Error(`Lamb eps must be non-negative, got ${this.eps}`);
    if (this.maxGradNorm !== null && !(this.maxGradNorm > 0)) throw new Error(`Lamb maxGradNorm must be positive or null, got ${this.maxGradNorm}`);
  }

  setMomentum(beta1: number): void {
    this.betas = [beta1, this.betas[1]];
  }

  protected hyperParameters(): Record<string, number | boolean> {
    return {
      beta1: this.betas[0], beta2: this.betas[1], eps: this.eps, gradAveraging: this.gradAveraging,
      maxGradNorm: this.maxGradNorm ?? 0, trustClip: this.trustClip, alwaysAdapt: this.alwaysAdapt, biasCorrection: this.biasCorrection,
    };
  }

  step(): void {
    tidy(() =>
      noGrad(() => {
        const groups = this.paramGroups.map((_, g) => this.gradientTensors(g));
        const clip = this.clipFactor(groups.flat().map((entry) => entry.grad));
        const [beta1, beta2] = this.betas;
        const beta3 = this.gradAveraging ? 1 - beta1 : 1;
        this.paramGroups.forEach((group, g) => {
          for (const { index, param, grad: rawGrad } of groups[g]) {
            // Every parameter of a group shares one step count in timm's Lamb; here each keeps its own (equal in practice).
            const steps = (this.counters[index] ?? 0) + 1;
            this.counters[index] = steps;
            const correction1 = this.biasCorrection ? 1 - beta1 ** steps : 1;
            const correction2 = this.biasCorrection ? 1 - beta2 ** steps : 1;
            const grad = clip === 1 ? rawGrad : rawGrad.div(clip);
            const expAvg = this.stateTensor(index, 'exp_avg', param).tensor;
            const expAvgSq = this.stateTensor(index, 'exp_avg_sq', param).tensor;
            if (this.gradAveraging) expAvg.lerp_(grad, beta3);
            else expAvg.mul_(beta1).add_(grad, beta3);
            expAvgSq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
            const denom = expAvgSq.sqrt().div_(correction2 ** 0.5).add_(this.eps);
            const update = expAvg.div(correction1).div_(denom);
            if (group.weightDecay !== 0) update.add_(param, group.weightDecay);
            if (group.weightDecay !== 0 || this.alwaysAdapt) update.mul_(this.trustRatio(param, update));
            param.add_(update, -group.lr);
          }
        });
      }),
    );
  }

  /** globalNorm / maxGradNorm when above 1, else 1 (a number: read once per step). */
  private clipFactor(grads: Tensor[]): number {
    if (this.maxGradNorm === null || grads.length === 0) return 1;
    let squares = 0;
    for (const grad of grads) squares += grad.square().sum().item();
    return Math.max(1, Math.sqrt(squares) / this.maxGradNorm);
  }

  private trustRatio(param: Tensor, update: Tensor): number {
    const weightNorm = param.norm().item();
    const updateNorm = update.norm().item();
    const ratio = weightNorm > 0 && updateNorm > 0 ? weightNorm / updateNorm : 1;
    return this.trustClip ? Math.min(ratio, 1) : ratio;
  }
}
