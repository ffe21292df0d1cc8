// Whether a run trains with its activations in oneDNN's blocked layout. libtorch runs
// convolutions, batch norm, ReLU, additions, pooling and linear layers on blocked tensors,
// but not every op (a mean, a concatenation, dropout, a 1-D batch norm), so a model with
// such an op would fail in its first step: one forward and backward of a fresh model on a
// batch of two finds that before training starts, and names the module.
import type { Module } from '../nn/module.js';
import { randn, zeros } from '../torch/creation.js';
import { tidy } from '../torch/scope.js';
import { forwardAndLoss, mkldnnConflict, type SettingNames } from './step.js';

/** A model has an op libtorch cannot run on oneDNN-layout tensors; `reason` names it and its module. */
export class MkldnnTrainingUnsupported extends Error {
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(`${what}: this model cannot train in oneDNN's blocked layout: ${reason}. Train without ${what} (--channels-last is the other fast layout)`);
    this.name = 'MkldnnTrainingUnsupported';
  }
}

/**
 * libtorch's refusals of oneDNN-layout tensors ("Could not run 'aten::mean.out' with
 * arguments from the 'MkldnnCPU' backend", "unsupported tensor layout: Mkldnn",
 * "mkldnn_batch_norm: ...") all name the layout; other errors (out of memory, a wrong
 * input shape) would stop dense training as well.
 */
const LAYOUT_REFUSAL = /mkldnn/i;

/** Throws MkldnnTrainingUnsupported, naming the first module whose op has no blocked-layout kernel, unless `build()`'s model trains in that layout. */
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
    const message = (error as Error).message;
    if (!LAYOUT_REFUSAL.test(message)) throw error;
    // libtorch's "Could not run ..." goes on to list every backend; the op and the module are what matter.
    throw new MkldnnTrainingUnsupported(what, message.split('\n')[0].replace(/\. This could be because .*$/, ''));
  } finally {
    model.dispose();
  }
}

export interface LayoutSettings {
  /** true: required (an error where it cannot apply); false: dense; 'auto' (the default): where it applies, and channels-last in bf16. */
  mkldnn: boolean | 'auto';
  /** Whether channels-last was asked for. */
  channelsLast: boolean;
  precision: string;
  gradCheckpointing: boolean;
  syncBatchNorm: boolean;
}

const CLI_NAMES: SettingNames = { channelsLast: '--channels-last', mkldnn: '--mkldnn', precision: '--precision', gradCheckpointing: '--checkpoint-activations', syncBatchNorm: '--sync-bn' };

/**
 * Whether a run whose layout was left to the default trains channels-last: a bf16 run does.
 * autocast takes no oneDNN-layout tensors, and oneDNN's bf16 kernels run channels-last
 * batches faster than NCHW ones (1.05x on resnet20 to 1.31x on resnet50: bench/README.md).
 */
export function channelsLastByDefault(settings: Pick<LayoutSettings, 'mkldnn' | 'channelsLast' | 'precision'>): boolean {
  return settings.mkldnn === 'auto' && !settings.channelsLast && settings.precision !== 'fp32';
}

/**
 * The layout a run trains in (oneDNN's blocked layout, channels-last or dense NCHW), and
 * the line that says which and why (in the CLI's flags, as the session's other notes).
 */
export function chooseTrainingLayout(settings: LayoutSettings, build: () => Module, inputShape: number[]): { mkldnn: boolean; channelsLast: boolean; note: string } {
  const { channelsLast } = settings;
  if (settings.mkldnn === false) return { mkldnn: false, channelsLast, note: `layout: ${channelsLast ? 'channels-last' : 'dense NCHW (--no-mkldnn)'}` };
  if (channelsLastByDefault(settings)) {
    return { mkldnn: false, channelsLast: true, note: `layout: channels-last, the default with ${CLI_NAMES.precision} ${settings.precision} (--no-mkldnn trains dense NCHW)` };
  }
  const conflict = mkldnnConflict(settings, CLI_NAMES);
  if (conflict) {
    if (settings.mkldnn === true) throw new Error(conflict.error);
    return { mkldnn: false, channelsLast, note: `layout: ${conflict.note}` };
  }
  try {
    checkMkldnnTraining(build, inputShape, '--mkldnn');
  } catch (error) {
    if (settings.mkldnn === true || !(error instanceof MkldnnTrainingUnsupported)) throw error;
    return { mkldnn: false, channelsLast, note: `layout: dense NCHW (oneDNN's blocked layout has no kernel for ${error.reason})` };
  }
  return { mkldnn: true, channelsLast, note: `layout: oneDNN's blocked layout for the activations${settings.mkldnn === 'auto' ? ' (--no-mkldnn trains dense NCHW)' : ' (--mkldnn)'}` };
}
