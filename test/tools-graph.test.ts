// Graph capture: the ops libtorch's tracer records for our models equal the ops
// torch.jit.trace records for torchvision's (scripts/trace_reference.py), with shapes and
// module paths; weights are named by state-dict keys; shortcuts and in-place ops are
// there; an op outside the table is an error naming it and its module.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel } from '../src/models/index.js';
import { Conv2d, Module } from '../src/nn/index.js';
import type { Tensor } from '../src/torch/tensor.js';
import { memory } from '../src/torch/runtime.js';
import { captureGraph, disposeGraph } from '../src/tools/graph/capture.js';
import { OPS } from '../src/tools/graph/ops.js';
import { CONVERTERS } from '../src/tools/onnx/converters.js';
import { runPython } from './helpers/python.js';

interface ReferenceOp {
  op: string;
  path: string;
  shape: number[];
}

function reference(name: string, shape: number[]): ReferenceOp[] {
  return runPython('trace_reference.py', [name, ...shape.map(String)])
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ReferenceOp);
}

describe('captureGraph', () => {
  for (const name of ['resnet18', 'resnet50']) {
    it(`records the ops torch.jit.trace records for torchvision's ${name}`, () => {
      const shape = [1, 3, 32, 32];
      const expected = reference(name, shape);
      const model = createModel(name, { init: false });
      const before = memory().liveTensors;
      const graph = captureGraph(model, { input: shape });
      disposeGraph(graph);
      assert.equal(memory().liveTensors, before, 'the capture frees what it made');
      assert.deepEqual(
        graph.ops.map((op) => [op.op, op.outputs[0].shape]),
        expected.map((op) => [op.op, op.shape]),
      );
      graph.ops.forEach((op, i) => {
        // Our pooling module flattens too (timm's head); torchvision flattens in forward().
        const want = op.op === 'aten::flatten' && op.path === 'avgpool' ? 'avgpool' : expected[i].path;
        assert.equal(op.path, want, `op ${i} (${op.op}) ran in '${op.path}', torchvision's in '${expected[i].path}'`);
      });
      model.dispose();
    });
  }

  it('names each weight by its state-dict key and shows shortcuts as adds of two branches', () => {
    const model = createModel('resnet20', { init: false });
    const graph = captureGraph(model, { input: [2, 3, 32, 32] });
    const keys = new Set(Object.keys(model.stateDict()));
    const names = [...graph.weights.values()].map((w) => w.name);
    assert.ok(names.length > 0 && names.every((name) => keys.has(name)));
    const firstConv = graph.ops[0];
    assert.equal(graph.weights.get((firstConv.args.weight as { ref: number }).ref)?.name, 'conv1.weight');
    assert.deepEqual(firstConv.args.stride, [1, 1]);
    const adds = graph.ops.filter((op) => op.op === 'aten::add_');
    assert.equal(adds.length, 9, 'one shortcut add per block of ResNet-20');
    for (const add of adds) {
      assert.equal(add.inPlace, true);
      assert.match(add.path, /^layer\d\.\d+$/);
      assert.equal(add.inputs.length, 2);
    }
    // Option A shortcuts: subsample by slicing and pad the new channels with zeros.
    assert.ok(graph.ops.some((op) => op.op === 'aten::constant_pad_nd' && op.path.endsWith('downsample')));
    assert.deepEqual(graph.outputs[0].shape, [2, 10]);
    disposeGraph(graph);
    model.dispose();
  });

  it('restores train mode and leaves the model usable', () => {
    const model = createModel('resnet20', { init: false }).train();
    disposeGraph(captureGraph(model, { input: [1, 3, 32, 32] }));
    assert.equal(model.training, true);
    model.dispose();
  });

  it('refuses an op outside the table, naming the op and the module path', () => {
    class Odd extends Module {
      forward(x: Tensor): Tensor {
        return x.exp();
      }
    }
    class Net extends Module {
      readonly conv = this.registerModule('conv', new Conv2d(3, 4, 3));
      readonly odd = this.registerModule('odd', new Odd());
      forward(x: Tensor): Tensor {
        return this.odd.call(this.conv.call(x));
      }
    }
    const before = memory().liveTensors;
    const net = new Net();
    assert.throws(() => captureGraph(net, { input: [1, 3, 8, 8] }), /op 'aten::exp' in module 'odd' \(Odd\) has no mapping/);
    net.dispose();
    assert.equal(memory().liveTensors, before);
    assert.throws(() => captureGraph(createModel('resnet20'), { input: [1, 3, 0, 32] }), /positive integers/);
    // An op that fails mid-trace reports its own error, and the next trace starts clean.
    const conv = new Conv2d(3, 4, 3);
    assert.throws(() => captureGraph(conv, { input: [1, 5, 8, 8] }), /expected input\[1, 5, 8, 8\] to have 3 channels/);
    disposeGraph(captureGraph(conv, { input: [1, 3, 8, 8] }));
    conv.dispose();
  });

  it('has an ONNX converter for every op it accepts', () => {
    assert.deepEqual([...OPS.keys()].filter((op) => !CONVERTERS.has(op)), []);
    assert.deepEqual([...CONVERTERS.keys()].filter((op) => !OPS.has(op)), []);
  });
});
