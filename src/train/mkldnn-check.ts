// Whether a run trains with its activations in oneDNN's blocked layout. libtorch runs
// convolutions, batch norm, ReLU, additions, pooling and linear layers on blocked tensors,
// but not every op (a mean, a concatenation, dropout, a 1-D batch norm), so a model with
// such an op would fail in its first step: one forward and backward of a fresh model on a
// batch of two finds that before training starts, and names the module.
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

export interface LayoutSettings {
  /** true: required (an error where it cannot apply); false: dense; 'auto' (the default): where it applies. */
  mkldnn: boolean | 'auto';
  channelsLast: boolean;
  precision: string;
  gradCheckpointing: boolean;
  syncBatchNorm: boolean;
}

/** Whether a run trains in oneDNN's blocked layout, and the line that says which layout and why (CLI option names). */
export function chooseTrainingLayout(settings: LayoutSettings, build: () => Module, inputShape: number[]): { mkldnn: boolean; note: string } {
  if (settings.mkldnn === false) return { mkldnn: false, note: `layout: ${settings.channelsLast ? 'channels-last' : 'dense NCHW (--no-mkldnn)'}` };
  const blocker = settings.channelsLast
    ? { note: 'channels-last', error: '--channels-last and --mkldnn are two layouts for the same activations: choose one' }
    : settings.precision !== 'fp32'
      ? { note: `dense NCHW (--precision ${settings.precision} runs under autocast, which takes no oneDNN-layout tensors)`, error: `--mkldnn trains in float32 only: libtorch's autocast does not take oneDNN-layout tensors (--channels-last takes --precision ${settings.precision})` }
      : settings.gradCheckpointing
        ? { note: 'dense NCHW (--checkpoint-activations)', error: '--mkldnn does not combine with --checkpoint-activations' }
        : settings.syncBatchNorm
          ? { note: 'dense NCHW (--sync-bn needs dense batch statistics)', error: "--mkldnn does not combine with --sync-bn: the synchronised batch norm's statistics need dense tensors" }
          : undefined;
  if (blocker) {
    if (settings.mkldnn === true) throw new Error(blocker.error);
    return { mkldnn: false, note: `layout: ${blocker.note}` };
  }
  try {
    checkMkldnnTraining(build, inputShape, '--mkldnn');
  } catch (error) {
    if (settings.mkldnn === true) throw error;
    const reason = (error as Error).message.replace(/^--mkldnn: this model cannot train in oneDNN's blocked layout: /, '').replace(/\. Train without --mkldnn.*$/, '');
    return { mkldnn: false, note: `layout: dense NCHW (oneDNN's blocked layout has no kernel for ${reason})` };
  }
  return { mkldnn: true, note: `layout: oneDNN's blocked layout for the activations${settings.mkldnn === 'auto' ? ' (--no-mkldnn trains dense NCHW)' : ' (--mkldnn)'}` };
}
