// Deterministic memory: tidy/keep/dispose semantics, memory() figures, native bytes
// reported to V8, and a 1,000-step training loop that holds flat memory.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';

type Tensor = torch.Tensor;
// Tiny tensors: extra intra-op threads only add synchronisation, which on a loaded
// machine costs more than the work itself.
torch.setNumThreads(1);
const live = (): number => torch.memory().liveTensors;

describe('tidy, keep and dispose', () => {
  it('frees every tensor made inside except the returned one', () => {
    const before = liveTensorsAfterCollection();
    let inner: Tensor[] = [];
    const result = torch.tidy(() => {
      const a = torch.ones([4]);
      const b = a.mul(3);
      inner = [a, b];
      return b.add(1);
    });
    assert.equal(live(), before + 1);
    assert.ok(inner.every((t) => t.isDisposed));
    assert.deepEqual(result.toArray(), [4, 4, 4, 4]);
    result.dispose();
    assert.equal(live(), before);
  });

  it('keeps tensors found in returned arrays, objects and maps', () => {
    const before = liveTensorsAfterCollection();
    const { pair, named, map } = torch.tidy(() => {
      const x = torch.arange(3);
      const scratch = x.mul(10);
      return { pair: [x.add(1), x.add(2)], named: { y: scratch.sub(1), label: 'text' }, map: new Map([['z', x.neg()]]) };
    });
    assert.equal(live(), before + 4);
    assert.deepEqual(pair[1].toArray(), [2, 3, 4]);
    assert.deepEqual(named.y.toArray(), [-1, 9, 19]);
    assert.deepEqual(map.get('z')!.toArray(), [0, -1, -2]);
    torch.dispose([pair, named, map]);
    assert.equal(live(), before);
  });

  it('nested scopes: an inner result belongs to the outer scope', () => {
    const before = liveTensorsAfterCollection();
    let fromInner: Tensor | undefined;
    const outer = torch.tidy(() => {
      fromInner = torch.tidy(() => torch.ones([2]).mul(2));
      assert.equal(fromInner.isDisposed, false);
      return fromInner.add(1);
    });
    assert.equal(fromInner!.isDisposed, true, 'the outer scope freed the inner result it did not return');
    assert.deepEqual(outer.toArray(), [3, 3]);
    outer.dispose();
    assert.equal(live(), before);
  });

  it('a result passed through from outside stays with its owner', () => {
    const weight = torch.ones([3]);
    torch.tidy(() => {
      const same = torch.tidy(() => weight);
      assert.equal(same, weight);
      return null;
    });
    assert.equal(weight.isDisposed, false, 'an identity path must not hand the input to the enclosing scope');
    const outerOwned = torch.tidy(() => {
      const x = torch.zeros([2]);
      torch.tidy(() => x);
      assert.equal(x.isDisposed, false);
      return x;
    });
    assert.equal(outerOwned.isDisposed, false);
    torch.dispose([weight, outerOwned]);
  });

  it('kept tensors survive every scope until disposed', () => {
    const before = liveTensorsAfterCollection();
    let kept: Tensor | undefined;
    let keptByFunction: Tensor | undefined;
    torch.tidy(() => {
      torch.tidy(() => {
        kept = torch.ones([2]).keep();
        keptByFunction = torch.keep(torch.zeros([2]));
      });
    });
    assert.equal(kept!.isDisposed, false);
    assert.equal(keptByFunction!.isDisposed, false);
    assert.equal(live(), before + 2);
    torch.dispose([kept, keptByFunction]);
    assert.equal(live(), before);
  });

  it('a throw inside tidy frees everything made inside, nested scopes too', () => {
    const before = liveTensorsAfterCollection();
    const made: Tensor[] = [];
    assert.throws(
      () =>
        torch.tidy(() => {
          made.push(torch.ones([3]));
          torch.tidy(() => {
            made.push(torch.ones([3]).mul(2));
            throw new Error('boom');
          });
        }),
      /boom/,
    );
    assert.ok(made.every((t) => t.isDisposed));
    assert.equal(live(), before);
  });

  it('autograd inside tidy: gradient handles are freed, the gradient stays on the leaf', () => {
    const w = torch.ones([3]).requiresGrad_();
    const before = liveTensorsAfterCollection();
    torch.tidy(() => {
      w.mul(w).sum().backward();
      assert.deepEqual(w.grad!.toArray(), [2, 2, 2]);
    });
    assert.equal(live(), before);
    const grad = w.grad!;
    assert.deepEqual(grad.toArray(), [2, 2, 2]);
    torch.dispose([grad, w]);
  });
});

describe('memory()', () => {
  it('counts live tensors and their bytes', () => {
    const start = torch.memory();
    const a = torch.zeros([10, 10]);
    const b = torch.zeros([5], { dtype: 'float64' });
    const c = torch.zeros([7], { dtype: 'uint8' });
    let now = torch.memory();
    assert.equal(now.liveTensors, start.liveTensors + 3);
    assert.equal(now.nativeBytes, start.nativeBytes + 400 + 40 + 7);
    const view = a.narrow(0, 0, 2);
    now = torch.memory();
    assert.equal(now.liveTensors, start.liveTensors + 4);
    assert.equal(now.nativeBytes, start.nativeBytes + 447, 'a view shares the bytes of its storage');
    a.dispose();
    assert.equal(torch.memory().nativeBytes, start.nativeBytes + 447, 'the storage lives while the view does');
    view.dispose();
    assert.equal(torch.memory().nativeBytes, start.nativeBytes + 47);
    torch.dispose([b, c]);
    assert.deepEqual(torch.memory(), start);
  });

  it('counts an expanded tensor by its storage, not its exabyte logical size', () => {
    const start = torch.memory();
    const one = torch.ones([1], { dtype: 'float64' });
    // 1e18 elements over one: V8 aborts the process if told of that many bytes.
    const huge = one.expand([1e9, 1e9]);
    assert.deepEqual(huge.shape, [1e9, 1e9]);
    assert.equal(torch.memory().nativeBytes, start.nativeBytes + 8);
    torch.dispose([one, huge]);
    assert.deepEqual(torch.memory(), start);
  });

  it('tells V8 about native bytes, so tensors nobody disposed are collected under pressure', async () => {
    // 100 tensors of 10 MB each, never disposed: only garbage collection can free them,
    // and V8 only collects for them if it knows about their native memory.
    const base = process.memoryUsage().rss;
    let peak = 0;
    for (let i = 0; i < 100; i++) {
      torch.ones([2_500_000]).sum().dispose();
      await nextTurn();
      peak = Math.max(peak, process.memoryUsage().rss - base);
    }
    assert.ok(peak < 500e6, `resident memory grew by ${(peak / 1e6).toFixed(0)} MB for 1000 MB of unreachable tensors`);
  });
});

/** The parameters and buffers of one residual block with a classifier head. */
interface ResidualNet {
  params: Tensor[];
  conv1: Tensor;
  bn1: [Tensor, Tensor];
  conv2: Tensor;
  bn2: [Tensor, Tensor];
  fc: [Tensor, Tensor];
  runningStats: [Tensor, Tensor, Tensor, Tensor];
}

function residualNet(channels: number, classes: number): ResidualNet {
  const scaled = (shape: number[], std: number): Tensor => torch.randn(shape).mul_(std).requiresGrad_();
  const conv1 = scaled([channels, channels, 3, 3], Math.sqrt(2 / (9 * channels)));
  const conv2 = scaled([channels, channels, 3, 3], Math.sqrt(2 / (9 * channels)));
  const bn1: [Tensor, Tensor] = [torch.ones([channels]).requiresGrad_(), torch.zeros([channels]).requiresGrad_()];
  const bn2: [Tensor, Tensor] = [torch.ones([channels]).requiresGrad_(), torch.zeros([channels]).requiresGrad_()];
  const fc: [Tensor, Tensor] = [scaled([classes, channels], 0.3), torch.zeros([classes]).requiresGrad_()];
  const runningStats: [Tensor, Tensor, Tensor, Tensor] = [torch.zeros([channels]), torch.ones([channels]), torch.zeros([channels]), torch.ones([channels])];
  return { params: [conv1, ...bn1, conv2, ...bn2, ...fc], conv1, bn1, conv2, bn2, fc, runningStats };
}

/** conv-bn-relu-conv-bn, skip add, relu, global average pool, linear. */
function forward(net: ResidualNet, x: Tensor): Tensor {
  const [mean1, var1, mean2, var2] = net.runningStats;
  let h = torch.conv2d(x, net.conv1, null, { padding: 1 });
  h = torch.batchNorm(h, mean1, var1, { weight: net.bn1[0], bias: net.bn1[1], training: true }).relu();
  h = torch.conv2d(h, net.conv2, null, { padding: 1 });
  h = torch.batchNorm(h, mean2, var2, { weight: net.bn2[0], bias: net.bn2[1], training: true });
  h = h.add(x).relu();
  return torch.linear(torch.adaptiveAvgPool2d(h, 1).flatten(1), net.fc[0], net.fc[1]);
}

function trainStep(net: ResidualNet, x: Tensor, y: Tensor, lr: number): number {
  return torch.tidy(() => {
    const loss = torch.crossEntropy(forward(net, x), y);
    for (const p of net.params) p.zeroGrad();
    loss.backward();
    torch.noGrad(() => {
      for (const p of net.params) p.sub_(p.grad!, lr);
    });
    return loss.item();
  });
}

describe('a 1,000-step training loop', () => {
  it('keeps liveTensors constant and resident memory growth under 50 MB, and learns', () => {
    torch.manualSeed(5);
    const channels = 8;
    const net = residualNet(channels, 10);
    // A fixed set of four batches (8 images of 8 channels, 8x8) that the block can fit.
    const batches = Array.from({ length: 4 }, () => ({ x: torch.randn([8, channels, 8, 8]), y: torch.randint(0, 10, [8]) }));
    const lossAt = (): number => torch.tidy(() => torch.noGrad(() => batches.reduce((sum, b) => sum + torch.crossEntropy(forward(net, b.x), b.y).item(), 0) / batches.length));
    const initialLoss = lossAt();

    let baselineRss = 0;
    let baselineLive = 0;
    const liveEvery100: number[] = [];
    for (let step = 1; step <= 1000; step++) {
      const batch = batches[step % batches.length];
      const loss = trainStep(net, batch.x, batch.y, 0.05);
      assert.ok(Number.isFinite(loss), `loss became ${loss} at step ${step}`);
      if (step === 50) {
        baselineRss = process.memoryUsage().rss;
        // After a collection: earlier tests' unreachable tensors would otherwise be freed
        // by the collector somewhere in the loop and lower the count.
        baselineLive = liveTensorsAfterCollection();
      }
      if (step % 100 === 0) liveEvery100.push(live());
    }
    const growth = process.memoryUsage().rss - baselineRss;
    assert.deepEqual(liveEvery100, new Array(10).fill(baselineLive), 'liveTensors after every 100 steps');
    assert.ok(growth < 50e6, `resident memory grew by ${(growth / 1e6).toFixed(1)} MB after warm-up`);
    const finalLoss = lossAt();
    assert.ok(finalLoss < initialLoss * 0.5, `loss went from ${initialLoss} to ${finalLoss}`);
    torch.dispose([net.params, net.runningStats, batches]);
  });
});
