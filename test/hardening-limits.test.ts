// Limits and checks for values that used to be accepted and then hurt: thread counts
// above the cores, model configs too large to build, unknown inference modes, seeds
// beyond 2^53, and what tidy() finds in the value it returns.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { createModelFromConfig } from '../src/models/index.js';
import { torch } from '../src/index.js';
import { InferenceWorker } from '../src/tools/inference-worker.js';
import { resnets } from './helpers/cli.js';

describe('thread counts', () => {
  it('setNumThreads caps the count at the machine cores, with a warning', () => {
    const before = torch.getNumThreads();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      torch.setNumThreads(1000);
      assert.equal(torch.getNumThreads(), availableParallelism());
    } finally {
      torch.setNumThreads(before);
    }
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        process.off('warning', onWarning);
        assert.deepEqual(warnings, [`setNumThreads(1000): this machine has ${availableParallelism()} cores; using ${availableParallelism()} threads`]);
        resolve();
      }),
    );
  });
  it('refuses non-integers', () => {
    assert.throws(() => torch.setNumThreads(1.5), /setNumThreads: expected a positive integer, got 1.5/);
  });
});

describe('model configs', () => {
  it('a depth of a billion blocks is refused at once, naming the option', () => {
    const started = performance.now();
    assert.throws(() => createModelFromConfig({ block: 'basic', depths: [1e9, 2, 2, 2] } as never), /resnet: depths\[0\] must be an integer from 1 to 1000, got 1000000000/);
    assert.ok(performance.now() - started < 1000);
  });
  it('a config larger than the machine is sized on the meta device and refused before allocating', () => {
    const before = torch.memory().nativeBytes;
    assert.throws(
      () => createModelFromConfig({ block: 'basic', depths: [2, 2, 2, 2], widths: [64, 128, 256, 200_000] } as never),
      /resnet: this config has [\d.e+]+ parameters \([\d.]+ GiB\), more than this machine's [\d.]+ GiB of memory/,
    );
    assert.equal(torch.memory().nativeBytes, before);
  });
  it('CIFAR ResNets are bounded in depth too', () => {
    assert.throws(() => createModelFromConfig({ family: 'cifar_resnet', depth: 6e9 + 2 } as never), /depth must be an integer from 8 to 10000/);
  });
});

describe('InferenceWorker', () => {
  it('rejects an unknown mode before starting a worker', async () => {
    await assert.rejects(InferenceWorker.start({ model: 'resnet20', mode: 'turbo' as never }), /InferenceWorker: unknown mode "turbo"; expected one of 'fastest', 'plain'/);
  });
});

describe('integer options beyond 2^53', () => {
  it('--seed 1e30 is a usage error, not a native error', async () => {
    const result = await resnets('train', 'resnet20', '--data', 'fashion-mnist', '--seed', '1e30');
    assert.equal(result.code, 1 + 1);
    assert.match(result.stderr, /option '--seed <n>' argument '1e30' is invalid\. expected a non-negative integer up to 9007199254740991, got '1e30'/);
    assert.throws(() => torch.manualSeed(1e30), /manualSeed: expected a non-negative integer up to 9007199254740991, got 1e\+30/);
  });
});

describe('what tidy() keeps from its result', () => {
  class Holder {
    constructor(readonly weights: torch.Tensor) {}
  }
  class Hidden {
    readonly #weights: torch.Tensor;
    constructor(weights: torch.Tensor) {
      this.#weights = weights;
    }
    get weights(): torch.Tensor {
      return this.#weights;
    }
  }
  it('tensors in Sets, Map keys and values and class instances survive; private fields need keep()', () => {
    const result = torch.tidy(() => ({
      set: new Set([torch.ones([1])]),
      map: new Map([[torch.ones([2]), torch.ones([3])]]),
      holder: new Holder(torch.ones([4])),
      hidden: new Hidden(torch.ones([5])),
      kept: new Hidden(torch.ones([6]).keep()),
    }));
    const [fromSet] = result.set;
    const [[key, value]] = result.map;
    for (const tensor of [fromSet, key, value, result.holder.weights, result.kept.weights]) assert.equal(tensor.isDisposed, false);
    assert.equal(result.hidden.weights.isDisposed, true, 'a tensor only a private field holds is not found');
    torch.dispose([fromSet, key, value, result.holder.weights, result.kept.weights]);
  });
});
