// The ops the other families bring, in one small network, through graph capture, the
// ONNX export (checked in onnxruntime-node, fixed and dynamic batch) and the diagram:
// a dense layer's concatenation, squeeze-and-excitation's sigmoid gate, PReLU, BatchNorm
// without a learned scale, max and average pooling with ceil_mode, a fractal mean join
// (stack, then mean), dropout in eval mode, adaptive max pooling and flatten.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { AdaptiveMaxPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, PReLU, ReLU, Sigmoid } from '../src/nn/index.js';
import { cat, stack } from '../src/torch/functional.js';
import { randn } from '../src/torch/creation.js';
import { manualSeed, noGrad } from '../src/torch/runtime.js';
import type { Tensor } from '../src/torch/tensor.js';
import { captureGraph, disposeGraph } from '../src/tools/graph/capture.js';
import { exportOnnx } from '../src/tools/onnx/export.js';
import { modelDot } from '../src/tools/plot/plot.js';

/** BN-ReLU-conv, its output concatenated to its input (DenseNet). */
class DenseLayer extends Module {
  readonly norm = this.registerModule('norm', new BatchNorm2d(8));
  readonly relu = this.registerModule('relu', new ReLU());
  readonly conv = this.registerModule('conv', new Conv2d(8, 4, 3, { padding: 1, bias: false }));
  forward(x: Tensor): Tensor {
    return cat([x, this.conv.call(this.relu.call(this.norm.call(x)))], 1);
  }
}

/** Channel attention: global mean, two 1x1 convolutions, a sigmoid gate (SE). */
class SqueezeExcite extends Module {
  readonly reduce = this.registerModule('fc1', new Conv2d(12, 4, 1));
  readonly relu = this.registerModule('relu', new ReLU(true));
  readonly expand = this.registerModule('fc2', new Conv2d(4, 12, 1));
  readonly gate = this.registerModule('gate', new Sigmoid());
  forward(x: Tensor): Tensor {
    return x.mul(this.gate.call(this.expand.call(this.relu.call(this.reduce.call(x.mean([2, 3], true))))));
  }
}

/** Two columns joined by their mean (FractalNet). */
class MeanJoin extends Module {
  readonly conv = this.registerModule('conv', new Conv2d(12, 12, 3, { padding: 1 }));
  forward(x: Tensor): Tensor {
    return stack([this.conv.call(x), x]).mean(0);
  }
}

class FamilyOps extends Module {
  readonly stem = this.registerModule('stem', new Conv2d(3, 8, 3, { padding: 1 }));
  readonly fixedGamma = this.registerModule('bn0', new BatchNorm2d(8, { affine: false }));
  readonly prelu = this.registerModule('prelu', new PReLU(8));
  readonly pool = this.registerModule('pool', new MaxPool2d(3, { stride: 2, ceilMode: true }));
  readonly dense = this.registerModule('dense', new DenseLayer());
  readonly se = this.registerModule('se', new SqueezeExcite());
  readonly transition = this.registerModule('transition', new AvgPool2d(2, { stride: 2, ceilMode: true, countIncludePad: false }));
  readonly join = this.registerModule('join', new MeanJoin());
  readonly dropout = this.registerModule('dropout', new Dropout(0.3));
  readonly globalPool = this.registerModule('global_pool', new AdaptiveMaxPool2d(1));
  readonly fc = this.registerModule('fc', new Linear(12, 5));
  forward(x: Tensor): Tensor {
    let y = this.pool.call(this.prelu.call(this.fixedGamma.call(this.stem.call(x))));
    y = this.transition.call(this.se.call(this.dense.call(y)));
    y = this.globalPool.call(this.dropout.call(this.join.call(y)));
    return this.fc.call(y.flatten(1));
  }
}

async function onnxOutput(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const outputs = await session.run({ input: new ort.Tensor('float32', x.toTypedArray() as Float32Array, x.shape) });
  await session.release();
  return (outputs.output as ort.Tensor).data as Float32Array;
}

describe('the ops of the other families', () => {
  manualSeed(3);
  const net = new FamilyOps();
  // Statistics away from 0 and 1, so the BatchNorms and their folding matter.
  noGrad(() => {
    for (const [key, tensor] of Object.entries(net.stateDict())) {
      if (key.endsWith('running_mean')) tensor.copy_(randn(tensor.shape).mul(0.2));
      if (key.endsWith('running_var')) tensor.copy_(randn(tensor.shape).abs().add(0.5));
    }
  });
  net.eval();

  it('are captured as what they are', () => {
    const graph = captureGraph(net, { input: [1, 3, 15, 15] });
    const ops = graph.ops.map((op) => `${op.op}@${op.path}`);
    disposeGraph(graph);
    for (const expected of [
      'aten::batch_norm@bn0',
      'aten::prelu@prelu',
      'aten::max_pool2d@pool',
      'aten::cat@dense',
      'aten::mean@se',
      'aten::sigmoid@se.gate',
      'aten::mul@se',
      'aten::avg_pool2d@transition',
      'aten::stack@join',
      'aten::mean@join',
      'aten::dropout@dropout',
      'aten::adaptive_max_pool2d@global_pool',
      'aten::flatten@',
      'aten::linear@fc',
    ]) {
      assert.ok(ops.includes(expected), `${expected} in ${ops.join(' ')}`);
    }
  });

  it('export to ONNX that onnxruntime runs within 1e-4 of ours, fixed and dynamic batch', async () => {
    for (const [options, batch] of [
      [{ input: [2, 3, 15, 15] }, 2],
      [{ input: [2, 3, 15, 15], dynamicBatch: true }, 3],
      [{ input: [2, 3, 15, 15], dynamicBatch: true, opset: 18 }, 1],
    ] as const) {
      const bytes = exportOnnx(net, options);
      const x = randn([batch, 3, 15, 15]);
      const ours = noGrad(() => net.call(x)).toTypedArray() as Float32Array;
      const theirs = await onnxOutput(bytes, x);
      assert.equal(theirs.length, ours.length);
      const scale = Math.max(...Array.from(ours, Math.abs));
      const worst = Math.max(...Array.from(ours, (v, i) => Math.abs(v - theirs[i])));
      assert.ok(worst / scale < 1e-4, `${JSON.stringify(options)}: relative difference ${worst / scale}`);
    }
  });

  it('draw the concatenation and the mean join as blocks that merge branches', () => {
    const dot = modelDot(net, { input: [1, 3, 15, 15] });
    assert.match(dot, /subgraph "cluster_block_dense"/);
    assert.match(dot, /subgraph "cluster_block_join"/);
    assert.doesNotMatch(dot, /subgraph "cluster_block_se"/, "SE's scaling multiplies; it does not merge two branches");
    assert.match(dot, /<b>Concat<\/b>/);
    assert.match(dot, /<b>Stack<\/b>/);
    assert.match(dot, /MaxPool 3×3 \/2<\/b><br\/><font point-size="9">ceil/);
  });
});
