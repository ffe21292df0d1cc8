// Training losses beyond torch's cross-entropy.
import type { Tensor } from '../torch/tensor.js';

/** Cross-entropy against soft targets (mixup, CutMix): mean over the batch of -sum(target * log_softmax(logits)), as timm's SoftTargetCrossEntropy. */
export function softTargetCrossEntropy(logits: Tensor, targets: Tensor): Tensor {
  if (logits.ndim !== 2 || targets.shape.join(',') !== logits.shape.join(',')) {
    throw new Error(`softTargetCrossEntropy: logits [${logits.shape.join(', ')}] and targets [${targets.shape.join(', ')}] must both be [batch, classes]`);
  }
  return logits.logSoftmax(1).mul(targets).sum(1).neg().mean();
}
