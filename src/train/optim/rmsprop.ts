// RMSprop (Hinton's lecture 6e) exactly as torch.optim.RMSprop, and timm's RMSpropTF,
// the TensorFlow variant EfficientNet and MobileNet recipes were tuned with: the mean
// square starts at one, eps sits inside the square root, and the learning rate is
// accumulated in the momentum buffer.
import { noGrad } from '../../torch/runtime.js';
import { tidy } from '../../torch/scope.js';
import type { Tensor } from '../../torch/tensor.js';
import { Optimizer, type ParamGroupInput } from './optimizer.js';

export interface RmspropOptions {
  lr: number;
  /** Smoothing of the mean square (torch's default 0.99; RMSpropTF's 0.9). */
  alpha?: number;
  /** torch's default 1e-8; RMSpropTF's 1e-10. */
  eps?: number;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
  momentum?: number;
  /** Normalise by the variance of the gradient instead of its mean square. */
  centered?: boolean;
}

export class RMSprop extends Optimizer {
  protected readonly kind: string = 'rmsprop';
  readonly alpha: number;
  readonly eps: number;
  momentum: number;
  readonly centered: boolean;

  constructor(params: Tensor[] | ParamGroupInput[], options: RmspropOptions, defaults: { alpha: number; eps: number } = { alpha: 0.99, eps: 1e-8 }) {
    super(params, { lr: options.lr, weightDecay: options.weightDecay ?? 0 });
    this.alpha = options.alpha ?? defaults.alpha;
    this.eps = options.eps ?? defaults.eps;
    this.momentum = options.momentum ?? 0;
    this.centered = options.centered ?? false;
    if (!(this.alpha >= 0 && this.alpha < 1)) throw new Error(`${this.constructor.name} alpha must be in [0, 1), got ${this.alpha}`);
    if (!(this.eps >= 0)) throw new Error(`${this.constructor.name} eps must be non-negative, got ${this.eps}`);
    if (!(this.momentum >= 0)) throw new Error(`${this.constructor.name} momentum must be non-negative, got ${this.momentum}`);
  }

  setMomentum(momentum: number): void {
    this.momentum = momentum;
  }

  protected hyperParameters(): Record<string, number | boolean> {
    return { alpha: this.alpha, eps: this.eps, momentum: this.momentum, centered: this.centered };
  }

  /** The mean square starts at zero in PyTorch, at one in TensorFlow. */
  protected readonly squareAverageStartsAtOne: boolean = false;

  step(): void {
    this.paramGroups.forEach((group, groupIndex) =>
      tidy(() =>
        noGrad(() => {
          for (const { index, param, grad: rawGrad } of this.gradientTensors(groupIndex)) {
            const grad = group.weightDecay !== 0 ? rawGrad.add(param, group.weightDecay) : rawGrad;
            const squareAvg = this.squareAverage(index, param);
            const avg = this.updateAverages(index, param, grad, squareAvg);
            if (this.momentum > 0) this.momentumStep(index, param, grad, avg, group.lr);
            else param.addcdiv_(grad, avg, -group.lr);
          }
        }),
      ),
    );
  }

  private squareAverage(index: number, param: Tensor): Tensor {
    const { tensor, created } = this.stateTensor(index, 'square_avg', param);
    if (created && this.squareAverageStartsAtOne) tensor.fill_(1);
    return tensor;
  }

  /** Updates the running averages; returns the denominator. */
  protected updateAverages(index: number, param: Tensor, grad: Tensor, squareAvg: Tensor): Tensor {
    squareAvg.mul_(this.alpha).addcmul_(grad, grad, 1 - this.alpha);
    let avg: Tensor;
    if (this.centered) {
      const gradAvg = this.stateTensor(index, 'grad_avg', param).tensor;
      gradAvg.mul_(this.alpha).add_(grad, 1 - this.alpha);
      avg = squareAvg.clone().addcmul_(gradAvg, gradAvg, -1).sqrt_();
    } else {
      avg = squareAvg.sqrt();
    }
    return avg.add_(this.eps);
  }

  protected momentumStep(index: number, param: Tensor, grad: Tensor, avg: Tensor, lr: number): void {
    const buffer = this.stateTensor(index, 'momentum_buffer', param).tensor;
    buffer.mul_(this.momentum).addcdiv_(grad, avg);
    param.add_(buffer, -lr);
  }
}

/** timm's RMSpropTF (decoupled_decay off, lr_in_momentum on): defaults alpha 0.9, eps 1e-10. */
export class RMSpropTF extends RMSprop {
  protected override readonly kind: string = 'rmsproptf';

  constructor(params: Tensor[] | ParamGroupInput[], options: RmspropOptions) {
    super(params, options, { alpha: 0.9, eps: 1e-10 });
  }

  protected override readonly squareAverageStartsAtOne = true;

  protected override updateAverages(index: number, param: Tensor, grad: Tensor, squareAvg: Tensor): Tensor {
    // TensorFlow's order of operations: avg += (1 - alpha) * (g^2 - avg).
    squareAvg.add_(grad.square().sub(squareAvg), 1 - this.alpha);
    if (this.centered) {
      const gradAvg = this.stateTensor(index, 'grad_avg', param).tensor;
      gradAvg.add_(grad.sub(gradAvg), 1 - this.alpha);
      return squareAvg.clone().addcmul_(gradAvg, gradAvg, -1).add_(this.eps).sqrt_();
    }
    return squareAvg.add(this.eps).sqrt_();
  }

  protected override momentumStep(index: number, param: Tensor, grad: Tensor, avg: Tensor, lr: number): void {
    const buffer = this.stateTensor(index, 'momentum_buffer', param).tensor;
    buffer.mul_(this.momentum).addcdiv_(grad, avg, lr);
    param.sub_(buffer);
  }
}
