// One optimisation step as its own function: forward, the loss (passed in, so margin
// losses can replace cross-entropy), backward, optional clipping, the update. The loop
// calls it per batch; distributed gradient all-reduce and activation checkpointing plug
// in here.
import type { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { autocast } from '../torch/autocast.js';
import { crossEntropy } from '../torch/functional.js';
import { isMkldnn, toDense, toMkldnn } from '../torch/mkldnn-layout.js';
import { tidy } from '../torch/scope.js';
import { Tensor } from '../torch/tensor.js';
import { clipGradNorm } from './optim/clip.js';
import type { Optimizer } from './optim/optimizer.js';

/**
 * The training loss of a batch from the model's output and the labels: a scalar tensor,
 * or the scalar with per-class scores when the output is not itself per-class (an
 * embedding's cosines to the class centres of a margin loss), which accuracy is read from.
 */
export type LossFunction = (output: Tensor, labels: Tensor) => Tensor | { loss: Tensor; scores: Tensor };

/** The loss scalar and the per-class scores (the output itself when the loss gives none). */
export function lossAndScores(loss: LossFunction, output: Tensor, labels: Tensor): { loss: Tensor; scores: Tensor } {
  const result = loss(output, labels);
  return result instanceof Tensor ? { loss: result, scores: output } : result;
}

/** Cross-entropy on logits, optionally label-smoothed: the default loss. */
export function crossEntropyLoss(options: { labelSmoothing?: number } = {}): LossFunction {
  const labelSmoothing = options.labelSmoothing ?? 0;
  return (logits, labels) => crossEntropy(logits, labels, { labelSmoothing });
}

/**
 * The arithmetic of the forward pass. 'bf16' is mixed precision as PyTorch's CPU
 * autocast: convolutions and matmuls in bfloat16, while the weights the optimizer
 * updates, its state, the norms' parameters and statistics, and the loss stay float32.
 */
export type TrainingPrecision = 'fp32' | 'bf16';
export const trainingPrecisions: TrainingPrecision[] = ['fp32', 'bf16'];

/** Refuses anything but 'fp32' and 'bf16', naming `option`. */
export function checkPrecision(value: unknown, option = 'precision'): TrainingPrecision {
  if (!trainingPrecisions.includes(value as TrainingPrecision)) {
    throw new Error(`${option} must be one of ${trainingPrecisions.join(', ')}, got '${String(value)}'`);
  }
  return value as TrainingPrecision;
}

/** How the forward pass runs; neither changes what is learnt beyond float rounding. */
export interface ForwardSettings {
  /** Default 'fp32'. */
  precision?: TrainingPrecision;
  /**
   * Feed the batch in channels-last memory (NHWC strides); with the convolution weights
   * converted once (convWeightsToChannelsLast_), oneDNN's convolutions and libtorch's
   * BatchNorm then run without reordering every activation.
   */
  channelsLast?: boolean;
  /**
   * Feed the batch in oneDNN's blocked layout: activations stay blocked from the first
   * convolution to the classifier instead of being reordered into that layout and back by
   * every convolution (bench/README.md). float32 only, and only for models whose every op
   * libtorch runs on blocked tensors (checkMkldnnTraining says whether a model does).
   */
  mkldnn?: boolean;
}

/** How messages name the settings: the library's option names, or the CLI's flags. */
export interface SettingNames {
  channelsLast: string;
  mkldnn: string;
  precision: string;
  gradCheckpointing: string;
  syncBatchNorm: string;
}
export const LIBRARY_SETTING_NAMES: SettingNames = { channelsLast: 'channelsLast', mkldnn: 'mkldnn', precision: 'precision', gradCheckpointing: 'gradCheckpointing', syncBatchNorm: 'syncBatchNorm' };

/**
 * Why oneDNN's blocked layout cannot apply with these settings: a short note for a run
 * that falls back to another layout, and the error for one that asked for it; undefined
 * where nothing stands in its way.
 */
export function mkldnnConflict(
  settings: { channelsLast?: boolean; precision?: string; gradCheckpointing?: boolean; syncBatchNorm?: boolean },
  names: SettingNames = LIBRARY_SETTING_NAMES,
): { note: string; error: string } | undefined {
  const precision = settings.precision ?? 'fp32';
  if (settings.channelsLast) return { note: 'channels-last', error: `${names.channelsLast} and ${names.mkldnn} are two layouts for the same activations: choose one` };
  if (precision !== 'fp32') {
    return {
      note: `dense NCHW (${names.precision} ${precision} runs under autocast, which takes no oneDNN-layout tensors)`,
      error: `${names.mkldnn} trains in float32 only: libtorch's autocast does not take oneDNN-layout tensors (${names.channelsLast} takes ${names.precision} ${precision})`,
    };
  }
  if (settings.gradCheckpointing) return { note: `dense NCHW (${names.gradCheckpointing})`, error: `${names.mkldnn} does not combine with ${names.gradCheckpointing}` };
  if (settings.syncBatchNorm) {
    return { note: `dense NCHW (${names.syncBatchNorm} needs dense batch statistics)`, error: `${names.mkldnn} does not combine with ${names.syncBatchNorm}: the synchronised batch norm's statistics need dense tensors` };
  }
  return undefined;
}

/** Refuses forward settings that do not combine (see mkldnnConflict). */
export function checkForwardSettings(settings: ForwardSettings, names: SettingNames = LIBRARY_SETTING_NAMES): void {
  const conflict = settings.mkldnn ? mkldnnConflict(settings, names) : undefined;
  if (conflict) throw new Error(conflict.error);
}

/** The model's output and the loss: a bf16 forward runs under autocast, the loss on its float32 output. */
export function forwardAndLoss(model: Module, images: Tensor, labels: Tensor, loss: LossFunction, settings: ForwardSettings = {}): { loss: Tensor; scores: Tensor } {
  checkForwardSettings(settings);
  if (settings.mkldnn) {
    const output = model.call(toMkldnn(images.contiguous()));
    return lossAndScores(loss, isMkldnn(output) ? toDense(output) : output, labels);
  }
  const input = settings.channelsLast ? images.contiguous('channelsLast') : images;
  if ((settings.precision ?? 'fp32') === 'fp32') return lossAndScores(loss, model.call(input), labels);
  const output = autocast('bfloat16', () => model.call(input));
  return lossAndScores(loss, output.dtype === 'float32' ? output : output.float(), labels);
}

export interface TrainingStepOptions {
  model: Module;
  optimizer: Optimizer;
  images: Tensor;
  labels: Tensor;
  loss: LossFunction;
  /** Clip the gradients' joint 2-norm to this before the update. */
  clipGradNorm?: number;
  /** The parameters clipping sees; default every parameter the optimizer updates. */
  params?: Parameter[];
  /** 'bf16': mixed precision (see TrainingPrecision); default 'fp32'. */
  precision?: TrainingPrecision;
  /** Channels-last batches (see ForwardSettings). */
  channelsLast?: boolean;
  /** Batches in oneDNN's blocked layout (see ForwardSettings). */
  mkldnn?: boolean;
}

export interface TrainingStepResult {
  /** The batch's loss; NaN or infinite means no update was made. */
  loss: number;
  /** Samples whose largest output is their label (0 when the output is not per-class). */
  correct: number;
}

/** Forward, loss, backward, clip, update; nothing is updated when the loss is not finite. */
export function trainingStep(options: TrainingStepOptions): TrainingStepResult {
  const { model, optimizer, images, labels } = options;
  return tidy(() => {
    const { loss: lossTensor, scores } = forwardAndLoss(model, images, labels, options.loss, options);
    const loss = lossTensor.item();
    if (!Number.isFinite(loss)) return { loss, correct: 0 };
    optimizer.zeroGrad();
    lossTensor.backward();
    if (options.clipGradNorm !== undefined) {
      clipGradNorm(options.params ?? optimizer.paramGroups.flatMap((group) => group.params), options.clipGradNorm);
    }
    optimizer.step();
    // Gradients are dropped now rather than before the next backward, so they do not
    // hold memory through evaluation and checkpoint writes.
    optimizer.zeroGrad();
    const correct = scores.ndim === 2 ? scores.argmax(1).eq(labels).sum().item() : 0;
    return { loss, correct };
  });
}
