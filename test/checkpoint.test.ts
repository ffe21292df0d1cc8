// Activation checkpointing: segments recomputed in backward give the gradients of the
// plain pass (1e-6 relative) for a ResNet, a DenseNet and a FractalNet on a seeded step
// with dropout and drop-path on; BatchNorm statistics advance once per step; the random
// state after a step is the same; peak tensor memory falls. (A recompute runs in
// JavaScript during backward: these tests pass only because libtorch's engine runs CPU
// nodes on the thread that called backward(); native/checkpoint.cc refuses others.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { native } from '../src/native.js';
import { torch } from '../src/index.js';
import * as models from '../src/models/index.js';
import { splitIntoSegments } from '../src/models/checkpoint-segments.js';
import { InferenceWorker } from '../src/tools/inference-worker.js';
import { assertClose, gradientsOf } from './helpers/gradients.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

interface StepResult {
  grads: Map<string, Float32Array>;
  buffers: Map<string, Float32Array>;
  nextRandom: number;
  loss: number;
}

function step(model: models.ImageClassifier, input: torch.Tensor, target: torch.Tensor, seed: number): StepResult {
  torch.manualSeed(seed);
  model.train().zeroGrad();
  const loss = torch.tidy(() => {
    const value = torch.crossEntropy(model.call(input), target);
    value.backward();
    return value.item();
  });
  // Drop-path can leave a column out of a step: its parameters get no gradient in either run.
  const grads = gradientsOf(model);
  const buffers = new Map<string, Float32Array>();
  for (const [key, buffer] of model.namedBuffers()) if (buffer.dtype === 'float32') buffers.set(key, buffer.toTypedArray() as Float32Array);
  const probe = torch.rand([1]);
  const nextRandom = probe.item();
  probe.dispose();
  return { grads, buffers, nextRandom, loss };
}

/** The same model twice (same weights), the second with checkpointing on. */
function pair(build: () => models.ImageClassifier, setting: boolean | { segments: number }): [models.ImageClassifier, models.ImageClassifier] {
  const plain = build();
  const checkpointed = plain.clone().setGradCheckpointing(setting);
  return [plain, checkpointed];
}

const cases: { name: string; build: () => models.ImageClassifier; input: number[]; classes: number; setting: boolean | { segments: number } }[] = [
  {
    name: 'ResNet (bottleneck blocks, every block a segment)',
    build: () => new models.ResNet({ block: 'bottleneck', depths: [2, 1], widths: [8, 16], stemWidth: 8, numClasses: 4 }),
    input: [2, 3, 32, 32],
    classes: 4,
    setting: true,
  },
  {
    name: 'DenseNet (dense-layer dropout 0.2, checkpointed dense layers)',
    build: () => new models.DenseNet({ growthRate: 4, blockConfig: [3, 3], numInitFeatures: 8, stem: 'cifar', numClasses: 5, denseDropRate: 0.2 }),
    input: [3, 3, 12, 12],
    classes: 5,
    setting: true,
  },
  {
    name: 'DenseNet (dropout before the classifier, layers and 2 trunk segments)',
    build: () => new models.DenseNet({ growthRate: 4, blockConfig: [3, 3], numInitFeatures: 8, stem: 'cifar', numClasses: 5, denseDropRate: 0.2, dropRate: 0.3 }),
    input: [3, 3, 12, 12],
    classes: 5,
    setting: { segments: 2 },
  },
  {
    name: 'FractalNet (drop-path and dropout on, every block a segment)',
    build: () => new models.FractalNet({ columns: 3, blocks: 3, channels: [4, 6, 8], dropRates: [0.1, 0.2, 0.3], inChans: 1, numClasses: 3 }),
    input: [3, 1, 16, 16],
    classes: 3,
    setting: true,
  },
];

describe('gradients with and without checkpointing agree to 1e-6 relative', () => {
  for (const c of cases) {
    it(c.name, () => {
      torch.manualSeed(1);
      const [plain, checkpointed] = pair(c.build, c.setting);
      const input = torch.randn(c.input);
      const target = torch.randint(0, c.classes, [c.input[0]]);
      try {
        for (const seed of [7, 8]) {
          const a = step(plain, input, target, seed);
          const b = step(checkpointed, input, target, seed);
          assert.equal(a.loss, b.loss, 'the same loss');
          assertClose(a.grads, b.grads, 1e-6, 'gradient');
          assertClose(a.buffers, b.buffers, 1e-6, 'BatchNorm statistics (updated once per step)');
          assert.equal(a.nextRandom, b.nextRandom, 'the generator ends a step where the plain step leaves it');
        }
      } finally {
        torch.dispose([input, target]);
        plain.dispose();
        checkpointed.dispose();
      }
    });
  }
});

describe('checkpointing', () => {
  it('keeps less: peak tensor bytes of a training step fall (resnet20, batch 4)', () => {
    const peakOf = (model: models.ImageClassifier, input: torch.Tensor, target: torch.Tensor) => {
      torch.tidy(() => torch.crossEntropy(model.call(input), target).backward()); // warm-up
      model.zeroGrad();
      const before = native.allocatorStats().currentBytes;
      native.resetPeakAllocatorBytes();
      torch.tidy(() => torch.crossEntropy(model.call(input), target).backward());
      model.zeroGrad();
      return native.allocatorStats().peakBytes - before;
    };
    torch.manualSeed(2);
    const [plain, checkpointed] = pair(() => models.createModel('resnet20'), true);
    const input = torch.randn([4, 3, 32, 32]);
    const target = torch.randint(0, 10, [4]);
    try {
      const [p, q] = [peakOf(plain.train(), input, target), peakOf(checkpointed.train(), input, target)];
      assert.ok(q < p * 0.7, `peak ${q} bytes with checkpointing, ${p} without`);
    } finally {
      torch.dispose([input, target]);
      plain.dispose();
      checkpointed.dispose();
    }
  });

  it('is off in eval mode and under noGrad, and can be switched off', () => {
    const model = models.createModel('resnet20').setGradCheckpointing({ segments: 3 });
    assert.deepEqual(model.gradCheckpointing, { segments: 3 });
    const x = torch.randn([1, 3, 32, 32]);
    torch.tidy(() => {
      const y = torch.noGrad(() => model.train().call(x));
      assert.equal(y.requiresGrad, false);
    });
    assert.equal(model.setGradCheckpointing(false).gradCheckpointing, null);
    x.dispose();
    model.dispose();
  });

  it('names a bad segments value', () => {
    const model = models.createModel('resnet20', { init: false });
    assert.throws(() => model.setGradCheckpointing({ segments: 0 }), /resnet20: setGradCheckpointing segments must be an integer >= 1, got 0/);
    model.dispose();
  });

  it('splits units into near-equal contiguous segments', () => {
    assert.deepEqual(splitIntoSegments([1, 2, 3, 4, 5], 2), [[1, 2, 3], [4, 5]]);
    assert.deepEqual(splitIntoSegments([1, 2], 5), [[1], [2]]);
  });

  it('an error thrown while recomputing reaches the caller of backward() as an Error', () => {
    const w = torch.randn([3]).requiresGrad_();
    let calls = 0;
    const [y] = torch.checkpoint(([x]) => {
      if (++calls > 1) throw new Error('boom in recompute');
      return [x.mul(w)];
    }, [torch.ones([3])]);
    assert.throws(() => y.sum().backward(), /recomputing a segment failed: boom in recompute/);
    torch.dispose([w, y]);
  });

  it('a segment function returning no array is an Error and leaves no handle behind', () => {
    const input = torch.ones([3]);
    const before = liveTensorsAfterCollection();
    // The addon's own check (torch.checkpoint's wrapper maps outputs before it can see them).
    assert.throws(() => native.checkpoint(() => 'not a list', [input.handle]), /the segment function must return an array of tensors/);
    // No collection here: a dropped handle counts until the collector frees it.
    assert.equal(torch.memory().liveTensors, before, 'the handles given to the segment were disposed');
    input.dispose();
  });

  it('backward through checkpointed segments works on this thread while and after a worker thread loads the addon', async () => {
    const gradient = () =>
      torch.tidy(() => {
        const w = torch.tensor([1, 2, 3], { dtype: 'float32' }).requiresGrad_();
        const [y] = torch.checkpoint(([x]) => [x.mul(w)], [torch.full([3], 2)]);
        y.sum().backward();
        return [...(w.grad!.toTypedArray() as Float32Array)];
      });
    const worker = await InferenceWorker.start({ model: 'resnet20', mode: 'plain', threads: 1 });
    try {
      assert.deepEqual(gradient(), [2, 2, 2], 'while the worker runs');
    } finally {
      await worker.close();
    }
    assert.deepEqual(gradient(), [2, 2, 2], 'after the worker closed');
  });
});
