// The embedding heads of InsightFace's symbol_utils.get_fc1 (deepinsight/insightface
// recognition/symbol/symbol_utils.py), which turn the last feature map into the face
// embedding. The layers are added to the model under get_fc1's names (bn1, pre_fc1,
// fc1, ...), so MXNet's `fc1_gamma`, `pre_fc1_weight` map straight onto them.
//
//   Z    bn1, dropout 0.4                      (the feature map itself, flattened here)
//   E    bn1, dropout 0.4, pre_fc1, fc1 (BN, fixed gamma)   InsightFace's default
//   FC   bn1, pre_fc1, fc1 (BN, fixed gamma)   (I is the same network)
//   GAP  bn1, Act relu1, global average pool, pre_fc1, fc1
//   GNAP [convx, convx_bn, convx_relu when the embedding is wider than 512], bn6f (fixed
//        gamma), each position scaled by mean(norms) / its norm, global average pool,
//        [bn6w, pre_fc1 when narrower than 512], fc1
//   GDC  conv_6dw7_7: a 7x7 depthwise convolution and its BatchNorm (MXNet's default eps
//        1e-3, as symbol_utils.Linear passes none), pre_fc1, fc1
//   F    bn1, dropout 0.4, fc1 (FullyConnected)
//   G    bn1, fc1 (FullyConnected)
//   H    fc1 (FullyConnected)
//   I    bn1, pre_fc1, fc1 (BN, fixed gamma)
//   J    pre_fc1, fc1 (BN, fixed gamma)
//
// One difference on purpose: upstream GNAP takes mx.sym.mean over the whole batch of
// norms, so one image's embedding depends on the others in its batch; here the mean is
// per image (the `axis=(1, 2, 3)` line upstream leaves commented out). For a batch of one
// the two agree.
import { Dropout } from '../nn/basic.js';
import { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { act, batchNorm2d, conv, FixedGammaBatchNorm, FullyConnected, MXNET_DEFAULT_EPS, type Activation } from './fresnet-layers.js';

export const headKinds = ['Z', 'E', 'FC', 'GAP', 'GNAP', 'GDC', 'F', 'G', 'H', 'I', 'J'] as const;
export type HeadKind = (typeof headKinds)[number];

export interface HeadSpec {
  /** Channels of the last feature map (512 in every fresnet.py configuration). */
  channels: number;
  /** Its height and width (7 x 7 for 112 x 112 input). */
  spatial: [number, number];
  embeddingSize: number;
  act: Activation;
}

export interface EmbeddingHead {
  forward(features: Tensor): Tensor;
  /** Length of the output: embeddingSize, or the flattened map for Z. */
  outputSize: number;
}

const DROPOUT = 0.4;

/** The `conv_6dw7_7` pair of GDC: symbol_utils.Linear's convolution and BatchNorm. */
class DepthwiseLinear extends Module {
  readonly conv2d: Conv2d;
  readonly batchnorm: Module;
  constructor(channels: number) {
    super();
    this.conv2d = this.registerModule('conv2d', new Conv2d(channels, channels, 7, { groups: channels, bias: false }));
    this.batchnorm = this.registerModule('batchnorm', batchNorm2d(channels, MXNET_DEFAULT_EPS));
  }
  forward(input: Tensor): Tensor {
    return this.batchnorm.call(this.conv2d.call(input));
  }
}

/** Adds get_fc1's layers for `kind` to `owner` in call order and returns the head's pass. */
export function addEmbeddingHead(owner: Module, kind: HeadKind, spec: HeadSpec): EmbeddingHead {
  const { channels, embeddingSize } = spec;
  const [height, width] = spec.spatial;
  const flat = channels * height * width;
  const add = <M extends Module<never, unknown>>(name: string, module: M): M => owner.registerModule(name, module);
  const chain = (...modules: Module[]) => (x: Tensor) => modules.reduce((value, module) => module.call(value), x);
  const fixedFc1 = () => add('fc1', new FixedGammaBatchNorm(embeddingSize));
  switch (kind) {
    case 'Z': {
      const body = chain(add('bn1', batchNorm2d(channels)), add('dropout', new Dropout(DROPOUT)));
      return { forward: (x) => body(x).flatten(1), outputSize: flat };
    }
    case 'E':
      return { forward: chain(add('bn1', batchNorm2d(channels)), add('dropout', new Dropout(DROPOUT)), add('pre_fc1', new FullyConnected(flat, embeddingSize)), fixedFc1()), outputSize: embeddingSize };
    case 'FC':
    case 'I':
      return { forward: chain(add('bn1', batchNorm2d(channels)), add('pre_fc1', new FullyConnected(flat, embeddingSize)), fixedFc1()), outputSize: embeddingSize };
    case 'GAP': {
      const body = chain(add('bn1', batchNorm2d(channels)), add('relu1', act(spec.act, channels)));
      const tail = chain(add('pre_fc1', new FullyConnected(channels, embeddingSize)), fixedFc1());
      return { forward: (x) => tail(body(x).mean([2, 3])), outputSize: embeddingSize };
    }
    case 'GNAP':
      return gnapHead(add, spec);
    case 'GDC': {
      if (height < 7 || width < 7) throw new Error(`fresnet: head 'GDC' needs a feature map of at least 7x7 (its 7x7 depthwise convolution), got ${height}x${width}: use a larger inputSize`);
      const outFlat = channels * (height - 6) * (width - 6);
      return { forward: chain(add('conv_6dw7_7', new DepthwiseLinear(channels)), add('pre_fc1', new FullyConnected(outFlat, embeddingSize)), fixedFc1()), outputSize: embeddingSize };
    }
    case 'F':
      return { forward: chain(add('bn1', batchNorm2d(channels)), add('dropout', new Dropout(DROPOUT)), add('fc1', new FullyConnected(flat, embeddingSize))), outputSize: embeddingSize };
    case 'G':
      return { forward: chain(add('bn1', batchNorm2d(channels)), add('fc1', new FullyConnected(flat, embeddingSize))), outputSize: embeddingSize };
    case 'H':
      return { forward: chain(add('fc1', new FullyConnected(flat, embeddingSize))), outputSize: embeddingSize };
    case 'J':
      return { forward: chain(add('pre_fc1', new FullyConnected(flat, embeddingSize)), fixedFc1()), outputSize: embeddingSize };
  }
}

/** GNAP (mobilefacenet++): norm-weighted global average pooling. */
function gnapHead(add: <M extends Module<never, unknown>>(name: string, module: M) => M, spec: HeadSpec): EmbeddingHead {
  const { embeddingSize } = spec;
  let filters = spec.channels;
  const widen: Module[] = [];
  if (embeddingSize > filters) {
    widen.push(add('convx', conv(filters, embeddingSize, 1, 1)), add('convx_bn', batchNorm2d(embeddingSize)), add('convx_relu', act(spec.act, embeddingSize)));
    filters = embeddingSize;
  }
  const bn6f = add('bn6f', new FixedGammaBatchNorm(filters));
  const narrow = embeddingSize < filters ? [add('bn6w', new FixedGammaBatchNorm(filters)), add('pre_fc1', new FullyConnected(filters, embeddingSize))] : [];
  const fc1 = add('fc1', new FixedGammaBatchNorm(embeddingSize));
  const forward = (features: Tensor): Tensor => {
    const body = bn6f.call(widen.reduce((x, module) => module.call(x), features));
    const norms = body.square().sum(1, { keepdim: true }).sqrt();
    const weighted = body.mul(norms.mean([1, 2, 3], true).div(norms));
    let pooled = weighted.mean([2, 3], true);
    pooled = narrow.length > 0 ? narrow.reduce((x, module) => module.call(x), pooled) : pooled.flatten(1);
    return fc1.call(pooled);
  };
  return { forward, outputSize: embeddingSize };
}
