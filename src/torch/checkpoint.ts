// Activation checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory
// Cost"; MXNet's memonger; PyTorch's torch.utils.checkpoint): a segment runs without
// keeping its intermediate activations, and is recomputed when backward reaches it,
// with the random state its forward saw, so dropout and drop-path draw the same masks.
import { native, type NativeHandle } from '../native.js';
import { isGradEnabled } from './runtime.js';
import { tidy } from './scope.js';
import { Tensor } from './tensor.js';

let recomputeDepth = 0;

/**
 * True while a checkpointed segment is being recomputed in backward. Layers with side
 * effects (BatchNorm's running statistics) skip them then, so a step updates them once.
 */
export function isRecomputing(): boolean {
  return recomputeDepth > 0;
}

/**
 * Runs `segment(inputs)` and returns its outputs; when grad mode is on, only `inputs`
 * are kept for backward and the segment's activations are recomputed there. Gradients
 * reach the inputs and every parameter the segment uses. With grad mode off this is a
 * plain call. The backward must run on this thread (CPU tensors: libtorch runs the
 * backward of device tensors on its device threads).
 */
export function checkpoint(segment: (inputs: Tensor[]) => Tensor[], inputs: Tensor[]): Tensor[] {
  if (!isGradEnabled()) return segment(inputs);
  let forwardDone = false;
  const run = (handles: NativeHandle[]): NativeHandle[] => {
    const recomputing = forwardDone;
    if (recomputing) recomputeDepth++;
    try {
      // The native side disposes the handles it passes and the ones returned.
      const outputs = tidy(() => segment(handles.map((handle) => new Tensor(handle))));
      return outputs.map((output) => output.handle);
    } finally {
      if (recomputing) recomputeDepth--;
    }
  };
  const outputs = native.checkpoint(run, inputs.map((input) => input.handle));
  forwardDone = true;
  return outputs.map((handle) => new Tensor(handle));
}

/** A checkpointed segment with one input and one output. */
export function checkpointOne(segment: (input: Tensor) => Tensor, input: Tensor): Tensor {
  return checkpoint(([x]) => [segment(x)], [input])[0];
}
