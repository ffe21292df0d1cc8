// oneDNN's blocked ("mkldnn") layout for CPU inference. PyTorch's default convolution
// reorders every activation into oneDNN's layout and back, and every weight too, on
// each call; keeping activations in that layout between layers and packing the weights
// once removes those copies (as torch.utils.mkldnn.to_mkldnn does). Same kernels, so
// outputs match the dense model to float rounding.
import { native } from '../native.js';
import { countNonFinite } from '../torch/functional.js';
import { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import { isMkldnn, toDense, toMkldnn } from '../torch/mkldnn-layout.js';
import { Tensor } from '../torch/tensor.js';

/**
 * oneDNN's ReLU and pooling turn NaN into finite values, so a NaN pixel would give
 * finite, confident logits where the plain model gives NaN: oneDNN-backed modes
 * (`mode` names one in the message) refuse such inputs.
 */
export function refuseNonFiniteInput(input: Tensor, mode: string): void {
  const nonFinite = countNonFinite(input);
  if (nonFinite > 0) {
    throw new Error(
      `the input has ${nonFinite} NaN or infinite value${nonFinite === 1 ? '' : 's'}; ${mode} ` +
        'does not propagate them as the plain model does (its ReLU and pooling make them finite), so it refuses them',
    );
  }
}

/** Whether the model's tensors can move to oneDNN's layout: float32 on the CPU. */
export function supportsMkldnn(model: Module<never, unknown>): boolean {
  return model.parameters().every((p) => p.dtype === 'float32' && p.device === 'cpu');
}

/**
 * Packs every convolution weight of `model` into oneDNN's layout for its own stride,
 * padding, dilation and groups, in place. The model then needs oneDNN-layout inputs:
 * wrap it in MkldnnInference. Inference only (no autograd through packed weights).
 */
export function packConvWeightsForMkldnn_(model: Module<never, unknown>): void {
  if (!supportsMkldnn(model)) throw new Error("oneDNN's layout needs a float32 model on the CPU");
  noGrad(() => {
    for (const [, module] of model.namedModules()) {
      if (!(module instanceof Conv2d) || isMkldnn(module.weight)) continue;
      const packed = new Tensor(
        native.mkldnnReorderConv2dWeight(module.weight.handle, module.padding, module.stride, module.dilation, module.groups),
      );
      module.weight.replaceWith(packed);
    }
  });
}

/**
 * Runs a model whose convolution weights were packed by packConvWeightsForMkldnn_:
 * dense input in, dense output out, oneDNN's layout in between.
 */
export class MkldnnInference extends Module {
  constructor(readonly model: Module) {
    super();
    this.registerModule('model', model);
    this.eval();
  }

  override train(mode = true): this {
    if (mode) throw new Error('a model in oneDNN layout runs inference only');
    return super.train(false);
  }

  forward(input: Tensor): Tensor {
    refuseNonFiniteInput(input, 'the oneDNN-layout (mkldnn) inference mode');
    return tidy(() => noGrad(() => toDense(this.model.call(toMkldnn(input.contiguous())))));
  }
}
