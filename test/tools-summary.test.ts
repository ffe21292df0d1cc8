// summarize(): per-layer shapes, own parameters and MACs on a small hand-checked model,
// and the totals of the zoo against torchvision's parameter counts and the MAC figures
// of DESIGN.md (224x224, convolutions and linear layers).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel } from '../src/models/index.js';
import { BatchNorm2d, Conv2d, Flatten, Identity, Linear, Module, ReLU, Sequential } from '../src/nn/index.js';
import type { Tensor } from '../src/torch/tensor.js';
import { memory } from '../src/torch/runtime.js';
import { formatMacs, formatSummary, summarize } from '../src/tools/summary.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

/** conv -> bn -> relu, the same relu twice, then a grouped conv, flatten, linear. */
class Tiny extends Module {
  readonly conv = this.registerModule('conv', new Conv2d(3, 8, 3, { padding: 1, bias: false }));
  readonly bn = this.registerModule('bn', new BatchNorm2d(8));
  readonly relu = this.registerModule('relu', new ReLU());
  readonly grouped = this.registerModule('grouped', new Conv2d(8, 4, 1, { stride: 2, groups: 2 }));
  readonly head = this.registerModule('head', new Sequential(new Flatten(), new Linear(4 * 3 * 3, 5)));
  forward(x: Tensor): Tensor {
    return this.head.call(this.grouped.call(this.relu.call(this.relu.call(this.bn.call(this.conv.call(x))))));
  }
}

describe('summarize', () => {
  it('reports every leaf call in order with shapes, own parameters and per-image MACs', () => {
    const model = new Tiny();
    model.train();
    const before = liveTensorsAfterCollection();
    const summary = summarize(model, [2, 3, 6, 6]);
    assert.equal(memory().liveTensors, before, 'the forward frees what it made');
    assert.equal(model.training, true, 'train mode is restored');
    assert.deepEqual(
      summary.layers.map((l) => [l.path, l.type, l.outputShape, l.params, l.macs]),
      [
        ['conv', 'Conv2d', [2, 8, 6, 6], 8 * 3 * 9, 8 * 36 * 3 * 9],
        ['bn', 'BatchNorm2d', [2, 8, 6, 6], 16, 0],
        ['relu', 'ReLU', [2, 8, 6, 6], 0, 0],
        ['relu', 'ReLU', [2, 8, 6, 6], 0, 0],
        // Each output element of a 2-group 1x1 conv sums over 8 / 2 input channels.
        ['grouped', 'Conv2d', [2, 4, 3, 3], 4 * 4 + 4, 4 * 9 * 4],
        ['head.0', 'Flatten', [2, 36], 0, 0],
        ['head.1', 'Linear', [2, 5], 36 * 5 + 5, 36 * 5],
      ],
    );
    assert.equal(summary.totalParams, model.countParameters());
    assert.equal(summary.trainableParams, summary.totalParams);
    assert.equal(summary.buffers, 16, 'running mean and variance; the batch counter is not a statistic');
    assert.equal(summary.macs, 8 * 36 * 27 + 4 * 9 * 4 + 36 * 5);
    assert.deepEqual(summary.input, [2, 3, 6, 6]);
    model.dispose();
  });

  it('counts a frozen parameter as non-trainable and a shared module once', () => {
    const shared = new Linear(4, 4);
    const model = new Sequential(shared, new Identity(), shared);
    shared.bias!.requiresGrad = false;
    const summary = summarize(model, [1, 4]);
    assert.equal(summary.layers.length, 3);
    assert.equal(summary.layers[0].params, 20);
    assert.equal(summary.layers[2].params, 0, 'the second call of the same module adds no parameters');
    assert.equal(summary.macs, 2 * 16);
    assert.equal(summary.totalParams, 20);
    assert.equal(summary.trainableParams, 16);
    model.dispose();
  });

  it('refuses a bad input shape', () => {
    const model = new Tiny();
    assert.throws(() => summarize(model, [1, 3, 0, 6]), /positive integers/);
    assert.throws(() => summarize(model, [1, 4, 6, 6]), /conv|channels|4/);
    model.dispose();
  });
});

describe('totals of the zoo at 224x224', () => {
  const expected: [string, number, string][] = [
    ['resnet18', 11_689_512, '1.814'],
    ['resnet50', 25_557_032, '4.089'],
    ['resnext50_32x4d', 25_028_904, '4.230'],
  ];
  for (const [name, params, gmacs] of expected) {
    it(`${name}: ${params.toLocaleString('en-US')} parameters, ${gmacs}e9 MACs`, () => {
      const model = createModel(name, { init: false });
      const summary = summarize(model, [1, 3, 224, 224]);
      model.dispose();
      assert.equal(summary.totalParams, params);
      assert.equal(summary.layers.reduce((sum, layer) => sum + layer.params, 0), params);
      assert.equal((summary.macs / 1e9).toFixed(3), gmacs);
      const last = summary.layers.at(-1)!;
      assert.deepEqual([last.path, last.outputShape], ['fc', [1, 1000]]);
      if (name === 'resnet50') {
        const table = formatSummary(summary, name);
        assert.match(table, /^MACs per image:\s+4\.09 GMACs \(4,089,\d{3},\d{3}\)$/m);
        assert.match(table, /^Total params:\s+25,557,032$/m);
        assert.match(table, /^layer4\.2\.conv3\s+Conv2d\s+\[1, 2048, 7, 7\]\s+1,048,576\s+51,380,224$/m);
      }
    });
  }
});

describe('formatMacs', () => {
  it('picks the unit', () => {
    assert.equal(formatMacs(4_089_184_256), '4.09 GMACs');
    assert.equal(formatMacs(40_813_056), '40.81 MMACs');
    assert.equal(formatMacs(1_500), '1.50 KMACs');
    assert.equal(formatMacs(12), '12 MACs');
  });
});
