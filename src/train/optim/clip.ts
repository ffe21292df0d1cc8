// Gradient-norm clipping, as torch.nn.utils.clip_grad_norm_ (2-norm over all gradients).
import { native, type NativeHandle } from '../../native.js';
import type { Tensor } from '../../torch/tensor.js';

/** Scales the gradients in place so their joint 2-norm is at most `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const grads: NativeHandle[] = [];
  for (const param of params) {
    const grad = native.grad(param.handle) as NativeHandle | null;
    if (grad !== null) grads.push(grad);
  }
  try {
    return native.clipGradNorm(grads, maxNorm) as number;
  } finally {
    for (const grad of grads) native.dispose(grad);
  }
}
