// An exponential moving average of a model's weights, as timm's ModelEmaV2: after every
// update, ema = decay * ema + (1 - decay) * model for every floating-point entry of the
// state dict (BatchNorm statistics included); integer buffers (num_batches_tracked) are
// copied, as timm's ModelEmaV3 does. The average lives in its own module, always in
// eval mode, so it can be evaluated and saved like the model itself.
import type { Module } from '../nn/module.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';

export interface ModelEmaOptions {
  /** Weight of the old average per update (timm's train script default: 0.9998). */
  decay?: number;
}

export class ModelEma<M extends Module = Module> {
  readonly module: M;
  readonly decay: number;

  /** `module` must have the model's architecture; it starts as a copy of the model's weights and is owned by the EMA. */
  constructor(model: Module, module: M, options: ModelEmaOptions = {}) {
    const decay = options.decay ?? 0.9998;
    if (!(decay >= 0 && decay <= 1)) throw new Error(`ModelEma: decay must be in [0, 1], got ${decay}`);
    this.decay = decay;
    this.module = module;
    tidy(() => module.loadStateDict(model.stateDict()));
    module.eval();
    for (const parameter of module.parameters()) parameter.requiresGrad_(false);
  }

  /** Moves the average towards the model's current weights. */
  update(model: Module): void {
    tidy(() =>
      noGrad(() => {
        const own = this.module.stateDict();
        const current = model.stateDict();
        for (const [key, average] of Object.entries(own)) {
          const value = current[key];
          if (!value) throw new Error(`ModelEma: the model has no '${key}'; was it built with another architecture?`);
          if (average.dtype === 'float32' || average.dtype === 'float64' || average.dtype === 'float16' || average.dtype === 'bfloat16') {
            // timm's arithmetic: decay * e + (1 - decay) * m, each product rounded.
            average.mul_(this.decay).add_(value.mul(1 - this.decay));
          } else {
            average.copy_(value);
          }
        }
      }),
    );
  }

  dispose(): void {
    this.module.dispose();
  }
}
