// InferenceWorker: a model on a worker thread answers forward passes without blocking the
// main thread, with the outputs of the same model run in-process.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import { createModel } from '../src/models/index.js';
import { InferenceWorker } from '../src/tools/inference-worker.js';
import { randn } from '../src/torch/creation.js';
import { manualSeed, memory, noGrad } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import type { Tensor } from '../src/torch/tensor.js';
import { tempDir } from './helpers/python.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

const temp = tempDir('resnets-worker-');
const weights = join(temp.path, 'resnet20.safetensors');
let input: Tensor;
let expected: Tensor;

before(() => {
  manualSeed(3);
  const model = createModel('resnet20', { numClasses: 7 });
  io.save(model.stateDict(), weights);
  model.eval();
  input = randn([4, 3, 32, 32]).keep();
  expected = tidy(() => noGrad(() => model.call(input)).keep());
  model.dispose();
});

after(() => {
  input.dispose();
  expected.dispose();
  temp.cleanup();
});

/** Largest absolute difference over the largest absolute value of `expected`. */
function relative(output: Tensor, reference: Tensor): number {
  return tidy(() => output.sub(reference).abs().max().item() / reference.abs().max().item());
}

describe('InferenceWorker', () => {
  // The worker may use another thread count than this process: oneDNN then sums in
  // another order, so outputs agree to float rounding rather than bit for bit.
  it('plain mode gives the in-process output, in request order', async () => {
    const worker = await InferenceWorker.start({ model: 'resnet20', weights, numClasses: 7, mode: 'plain', threads: 1 });
    try {
      assert.equal(worker.mode, 'plain');
      const outputs = await Promise.all([worker.run(input), worker.run(input.narrow(0, 0, 2)), worker.run(input)]);
      assert.deepEqual(outputs.map((o) => o.shape), [[4, 7], [2, 7], [4, 7]]);
      assert.ok(relative(outputs[0], expected) <= 1e-6);
      assert.ok(relative(outputs[2], expected) <= 1e-6);
      tidy(() => assert.ok(relative(outputs[1], expected.narrow(0, 0, 2)) <= 1e-6));
      for (const output of outputs) output.dispose();
    } finally {
      await worker.close();
    }
  });

  it('the fastest mode stays within 1e-4 and the main thread keeps running meanwhile', async () => {
    const worker = await InferenceWorker.start({ model: 'resnet20', weights, numClasses: 7, threads: 1 });
    try {
      assert.ok(worker.difference <= 1e-4, `${worker.mode}: ${worker.difference}`);
      const big = tidy(() => randn([64, 3, 32, 32]).keep());
      let turns = 0;
      let waiting = true;
      const spin = () => {
        turns++;
        if (waiting) setImmediate(spin);
      };
      setImmediate(spin);
      const [output, small] = await Promise.all([worker.run(big), worker.run(input)]);
      waiting = false;
      assert.ok(turns > 5, `the event loop turned ${turns} times during the forward passes`);
      assert.deepEqual(output.shape, [64, 7]);
      assert.ok(relative(small, expected) <= 1e-4);
      for (const tensor of [big, output, small]) tensor.dispose();
    } finally {
      await worker.close();
    }
  });

  it('a bad input rejects with the model error and the worker goes on serving', async () => {
    const worker = await InferenceWorker.start({ model: 'resnet20', weights, numClasses: 7, mode: 'plain', threads: 1 });
    try {
      const wrong = tidy(() => randn([2, 1, 32, 32]).keep());
      await assert.rejects(worker.run(wrong), /expects input \[N, 3, H, W\].*got \[2, 1, 32, 32\]/);
      wrong.dispose();
      const output = await worker.run(input);
      assert.ok(relative(output, expected) <= 1e-6);
      output.dispose();
    } finally {
      await worker.close();
    }
    await assert.rejects(worker.run(input), /closed/);
  });

  it('loading errors reject start()', async () => {
    await assert.rejects(InferenceWorker.start({ model: 'resnet21', threads: 1 }), /unknown model 'resnet21'/);
    await assert.rejects(InferenceWorker.start({ model: 'resnet32', weights, numClasses: 7, threads: 1 }), /missing keys/);
    await assert.rejects(InferenceWorker.start({ model: 'resnet20', weights: join(temp.path, 'nope.safetensors'), threads: 1 }), /nope\.safetensors/);
  });

  it('leaves no tensor behind on the main thread', async () => {
    const before = liveTensorsAfterCollection();
    const worker = await InferenceWorker.start({ model: 'resnet20', weights, numClasses: 7, mode: 'plain', threads: 1 });
    const output = await worker.run(input);
    output.dispose();
    await worker.close();
    assert.equal(memory().liveTensors, before);
  });
});
