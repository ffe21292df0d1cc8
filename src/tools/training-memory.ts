// Activation memory of a training step, measured: one forward and backward pass in
// training mode, with libtorch's CPU allocations counted (autograd's saved tensors
// included), with and without activation checkpointing. The model is left as it was
// (BatchNorm statistics, gradients, mode and checkpointing setting restored).
import type { GradCheckpointingOptions, ImageClassifier } from '../models/classifier.js';
import { native } from '../native.js';
import { zeros } from '../torch/creation.js';
import { enableGrad, noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';

export interface StepMemory {
  /** Bytes per image held after the forward pass for backward (saved activations and the output). */
  keptBytesPerImage: number;
  /** Highest bytes per image during forward and backward beyond the weights, their gradients and the input. */
  peakBytesPerImage: number;
}

export interface TrainingMemory {
  /** [N, C, H, W] of the measured step. */
  input: number[];
  plain: StepMemory;
  checkpointed: StepMemory;
  /** The setting the checkpointed step used. */
  gradCheckpointing: true | GradCheckpointingOptions;
}

const allocated = (): number => native.allocatorStats().currentBytes;

function measureStep(model: ImageClassifier, inputShape: number[]): StepMemory {
  const batch = inputShape[0];
  return tidy(() => {
    const input = zeros(inputShape);
    const before = allocated();
    native.resetPeakAllocatorBytes();
    return enableGrad(() => {
      const output = model.call(input);
      const kept = allocated() - before;
      output.sum().backward();
      const peak = native.allocatorStats().peakBytes - before;
      return { keptBytesPerImage: kept / batch, peakBytesPerImage: peak / batch };
    });
  });
}

/**
 * Measures a training step of `model` at `inputShape` (batch of at least 2: BatchNorm
 * needs two values per channel in training), plain and checkpointed.
 */
export function measureTrainingMemory(
  model: ImageClassifier,
  inputShape: number[],
  gradCheckpointing: true | GradCheckpointingOptions = true,
): TrainingMemory {
  if (inputShape.length !== 4 || inputShape[0] < 2) {
    throw new Error(`training memory: the input must be [N, C, H, W] with N >= 2 (BatchNorm trains on batch statistics), got [${inputShape.join(', ')}]`);
  }
  const wasTraining = model.training;
  const setting = model.gradCheckpointing;
  const buffers = noGrad(() => [...model.namedBuffers()].map(([, buffer]) => [buffer, buffer.clone().keep()] as const));
  // The gradients stay allocated between passes (backward accumulates into them), so
  // only activations and temporaries are counted.
  const measure = () => measureStep(model.train(), inputShape);
  try {
    measure(); // the first pass allocates the gradients and oneDNN's caches: left out of the figures
    const plain = measure();
    model.setGradCheckpointing(gradCheckpointing);
    const checkpointed = measure();
    return { input: [...inputShape], plain, checkpointed, gradCheckpointing };
  } finally {
    model.zeroGrad();
    noGrad(() => buffers.forEach(([buffer, saved]) => buffer.copy_(saved)));
    buffers.forEach(([, saved]) => saved.dispose());
    model.setGradCheckpointing(setting === null ? false : setting.segments === null ? true : { segments: setting.segments });
    model.train(wasTraining);
  }
}

const mebibytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

export function formatTrainingMemory(memory: TrainingMemory): string {
  const { plain, checkpointed } = memory;
  const segments = memory.gradCheckpointing === true ? 'setGradCheckpointing(true)' : `${memory.gradCheckpointing.segments} segments`;
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x less` : '-');
  return [
    `Training memory per image (measured on a step at [${memory.input.join(', ')}]):`,
    `  kept for backward:  ${mebibytes(plain.keptBytesPerImage)}, with checkpointing (${segments}) ${mebibytes(checkpointed.keptBytesPerImage)} (${ratio(plain.keptBytesPerImage, checkpointed.keptBytesPerImage)})`,
    `  step peak:          ${mebibytes(plain.peakBytesPerImage)}, with checkpointing ${mebibytes(checkpointed.peakBytesPerImage)} (${ratio(plain.peakBytesPerImage, checkpointed.peakBytesPerImage)})`,
  ].join('\n');
}
