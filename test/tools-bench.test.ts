// Inference modes (BatchNorm folding, channels-last, oneDNN's layout) keep the plain
// eval model's outputs; the mode picker, the benchmark loop and the PyTorch peer script.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel } from '../src/models/index.js';
import { BatchNorm2d, Conv2d, Module, Sequential } from '../src/nn/index.js';
import type { Tensor } from '../src/torch/tensor.js';
import { randn, tensor } from '../src/torch/creation.js';
import { manualSeed, memory, noGrad } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import { benchmarkInference, median, relativeDifference } from '../src/tools/bench.js';
import {
  checkedInferenceModel,
  fastestFaithfulModel,
  MODES_FASTEST_FIRST,
  modeName,
  prepareForInference,
  type InferenceMode,
} from '../src/tools/inference-modes.js';
import { MkldnnInference } from '../src/tools/mkldnn.js';
import { isMkldnn, toDense, toMkldnn } from '../src/torch/mkldnn-layout.js';
import { benchmarkAgainstPeer } from '../src/tools/bench-compare.js';
import { assertComparedRuns } from './helpers/bench.js';
import { TorchPeer } from '../src/tools/torch-peer.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

import { trainedLookingModel, type ImageModel } from './helpers/trained-looking.js';

describe('inference modes', () => {
  const modes: InferenceMode[] = [
    { fuse: false, layout: 'dense' },
    { fuse: true, layout: 'dense' },
    { fuse: false, layout: 'channels-last' },
    { fuse: true, layout: 'channels-last' },
    { fuse: false, layout: 'mkldnn' },
    { fuse: true, layout: 'mkldnn' },
  ];
  // ResNeXt's grouped convolutions pack differently: its fast modes are checked too.
  const cases: [string, InferenceMode][] = [
    ...modes.map((mode) => ['resnet18', mode] as [string, InferenceMode]),
    ['resnext50_32x4d', { fuse: true, layout: 'mkldnn' }],
    ['resnext50_32x4d', { fuse: true, layout: 'channels-last' }],
  ];
  for (const [name, mode] of cases) {
    it(`${name} ${modeName(mode)} stays within 1e-4 of the plain eval model`, () => {
      const model = trainedLookingModel(name);
      const input = randn([2, 3, 40, 40]);
      const reference = tidy(() => noGrad(() => model.eval().call(input)));
      const prepared = prepareForInference(model, mode);
      const output = tidy(() => noGrad(() => prepared.call(mode.layout === 'channels-last' ? input.contiguous('channelsLast') : input)));
      assert.deepEqual(output.shape, [2, 7]);
      assert.ok(!isMkldnn(output), 'the output is dense');
      const difference = relativeDifference(output, reference);
      assert.ok(difference <= 1e-4, `${modeName(mode)}: relative difference ${difference}`);
      if (mode.fuse) assert.ok(difference > 0 || mode.layout !== 'dense', 'folding changes the rounding, so the check can see a difference');
      prepared.dispose();
      for (const tensor of [input, reference, output]) tensor.dispose();
    });
  }

  it('mode names', () => {
    assert.deepEqual(MODES_FASTEST_FIRST.map(modeName), ['fused+dnnl+tuned', 'fused+dnnl', 'fused+mkldnn', 'fused+channels-last', 'fused', 'plain']);
  });

  it('checkedInferenceModel measures the drift from the plain model', () => {
    const checked = checkedInferenceModel(trainedLookingModel('resnet18'), { fuse: true, layout: 'mkldnn' }, [1, 3, 32, 32]);
    assert.ok(checked.difference > 0 && checked.difference <= 1e-4, String(checked.difference));
    checked.model.dispose();
  });

  it('fastestFaithfulModel takes the first candidate within tolerance, falling back to plain', () => {
    const fast = fastestFaithfulModel(() => trainedLookingModel('resnet18'), [1, 3, 32, 32]);
    // The tuned plan comes first; were its kernels (Winograd, say) to drift past 1e-4, the direct plan would be next.
    if (modeName(fast.mode) === 'fused+dnnl') assert.match(fast.rejected[0]?.reason ?? '', /output differs by .* over 0.0001/);
    else assert.equal(modeName(fast.mode), 'fused+dnnl+tuned');
    fast.model.dispose();
    const strict = fastestFaithfulModel(() => trainedLookingModel('resnet18'), [1, 3, 32, 32], 0);
    assert.equal(modeName(strict.mode), 'plain', 'only the plain model reproduces itself exactly');
    assert.equal(strict.difference, 0);
    strict.model.dispose();
  });

  it('a mode that fails on the model is passed over with its reason', () => {
    // Strided views have no oneDNN-layout kernel; the oneDNN plan subsamples from the first row only.
    class EveryOtherRow extends Module {
      forward(input: Tensor): Tensor {
        return input.slice(2, 1, undefined, 2);
      }
    }
    const build = () => new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4), new EveryOtherRow()) as unknown as ImageModel;
    const chosen = fastestFaithfulModel(build, [1, 3, 8, 8]);
    assert.equal(modeName(chosen.mode), 'fused+channels-last');
    assert.deepEqual(chosen.rejected.map((r) => modeName(r.mode)), ['fused+dnnl+tuned', 'fused+dnnl', 'fused+mkldnn']);
    assert.match(chosen.rejected[0].reason, /op 'aten::slice' in module '2' \(EveryOtherRow\) is not supported/);
    assert.match(chosen.rejected[1].reason, /op 'aten::slice' in module '2' \(EveryOtherRow\) is not supported/);
    assert.ok(chosen.rejected[2].reason.length > 0);
    assert.ok(chosen.difference <= 1e-4);
    chosen.model.dispose();
  });

  it('oneDNN layout round trip and the wrapper refuses training', () => {
    const x = randn([2, 3, 5, 5]);
    const [back, wasMkldnn] = tidy(() => {
      const packed = toMkldnn(x);
      return [toDense(packed), isMkldnn(packed)];
    });
    assert.equal(wasMkldnn, true);
    assert.ok(back.allclose(x, 0, 0));
    const wrapped = prepareForInference(trainedLookingModel('resnet18'), { fuse: true, layout: 'mkldnn' });
    assert.ok(wrapped instanceof MkldnnInference);
    assert.throws(() => wrapped.train(), /inference only/);
    wrapped.dispose();
    x.dispose();
    back.dispose();
  });
});

describe('benchmarkInference', () => {
  it('times warm-up and runs, reports the median, frees what it made', () => {
    const model = createModel('resnet20') as unknown as ImageModel;
    const before = liveTensorsAfterCollection();
    const result = benchmarkInference(model as unknown as Parameters<typeof benchmarkInference>[0], { batchSize: 4, size: 32, warmup: 1, runs: 5 });
    assert.equal(memory().liveTensors, before);
    assert.equal(result.timesMs.length, 5);
    assert.equal(result.medianMs, median(result.timesMs));
    assert.ok(Math.abs(result.imagesPerSecond - 4000 / result.medianMs) < 1e-9);
    assert.equal(model.training, false, 'benchmarks run in eval mode');
    model.dispose();
  });

  it('median', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]));
  });

  it('relativeDifference is the largest deviation over the largest reference value', () => {
    const reference = tensor([1, 2, -4]);
    const output = tensor([1, 2.5, -4]);
    assert.equal(relativeDifference(reference, reference), 0);
    assert.equal(relativeDifference(output, reference), 0.5 / 4);
    reference.dispose();
    output.dispose();
  });
});

describe('the PyTorch peer', () => {
  it('bench/inference.py --serve times torchvision on request; runs alternate with ours', async () => {
    const peer = await TorchPeer.start({ model: 'resnet18', size: 32, threads: 1 });
    try {
      assert.match(peer.version, /^1\.13/);
      assert.equal(peer.threads, 1);
      const times = await peer.time(2, 3);
      assert.equal(times.length, 3);
      assert.ok(times.every((t) => t > 0));
      const model = createModel('resnet18', { init: false });
      const compared = await benchmarkAgainstPeer(model as unknown as ImageModel, peer, { batchSize: 2, size: 32, warmup: 1, runs: 3 });
      model.dispose();
      assertComparedRuns(compared, 3, 1);
    } finally {
      await peer.close();
    }
  });

  it('names a model neither torchvision nor the family reference has', async () => {
    await assert.rejects(TorchPeer.start({ model: 'resnet20', size: 32, threads: 1 }), /neither torchvision nor scripts\/resnet_family_reference\.py has a model named 'resnet20'/);
  });
});
