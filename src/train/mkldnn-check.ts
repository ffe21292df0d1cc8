// Whether a model trains with its activations in oneDNN's blocked layout: libtorch runs
// convolutions, batch norm, ReLU, additions, pooling and linear layers on blocked tensors,
// but not every op (a mean, a concatenation, dropout), so a model with such an op would
// fail in its first step. One forward and backward of a fresh model on a batch of two finds
// that before training starts, and names the module.
import type { Module } from '../nn/module.js';
import { randn, zeros } from '../torch/creation.js';
import { tidy } from '../torch/scope.js';
import { forwardAndLoss } from './step.js';

/** Throws, naming the first module whose op has no blocked-layout kernel, unless `build()`'s model trains in that layout. */
export function checkMkldnnTraining(build: () => Module, inputShape: number[], what: string): void {
  const model = build();
  try {
    model.train();
    tidy(() => {
      // Any scalar that reaches every layer will do: the question is which ops run, not what they learn.
      const { loss } = forwardAndLoss(model, randn([2, ...inputShape]), zeros([2], { dtype: 'int64' }), (output) => output.square().sum(), { mkldnn: true });
      loss.backward();
    });
  } catch (error) {
    // libtorch's "Could not run ... from the 'MkldnnCPU' backend" goes on to list every backend; the op and the module are what matter.
    const reason = (error as Error).message.split('\n')[0].replace(/\. This could be because .*$/, '');
    throw new Error(`${what}: this model cannot train in oneDNN's blocked layout: ${reason}. Train without ${what} (--channels-last is the other fast layout)`);
  } finally {
    model.dispose();
  }
}
