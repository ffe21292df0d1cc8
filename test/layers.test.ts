// The shared building blocks: ConvNormAct (own keys or a host's, folding its own norm),
// SqueezeExcite's layout, DropPath's rules and per-block rates, ClassifierHead's pooling
// kinds and reset.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layers, nn, torch, tools } from '../src/index.js';

const maxDiff = (a: torch.Tensor, b: torch.Tensor) => torch.tidy(() => a.sub(b).abs().max().item());

/** Random running statistics, so folding has something to fold. */
function randomizeNorms(module: nn.Module<unknown, unknown>): void {
  torch.noGrad(() => {
    for (const [, m] of module.namedModules()) {
      if (!(m instanceof nn.BatchNorm2d)) continue;
      m.runningMean!.copy_(torch.randn(m.runningMean!.shape).mul(0.1));
      m.runningVar!.copy_(torch.rand(m.runningVar!.shape).add(0.5));
      m.weight!.copy_(torch.rand(m.weight!.shape).add(0.5));
      m.bias!.copy_(torch.randn(m.bias!.shape).mul(0.1));
    }
  });
}

class Host extends nn.Module {
  readonly unit = layers.inlineInto(this, new layers.ConvNormAct(3, 8, 3, { stride: 2, names: { conv: 'conv1', norm: 'bn1', act: 'relu' } }));
  forward(input: torch.Tensor): torch.Tensor {
    return this.unit.call(input);
  }
}

describe('ConvNormAct', () => {
  it("has timm's keys on its own and the host's names when inlined", () => {
    const unit = new layers.ConvNormAct(3, 8, 3);
    assert.deepEqual(Object.keys(unit.stateDict()), ['conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    assert.equal(unit.conv.bias, null, 'no conv bias before a norm');
    const host = new Host();
    assert.deepEqual(Object.keys(host.stateDict()), ['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']);
    assert.deepEqual([...host.namedChildren()].map(([name]) => name), ['conv1', 'bn1', 'relu']);
    const plain = new layers.ConvNormAct(4, 4, 1, { norm: null, act: null });
    assert.ok(plain.conv.bias, 'a conv without norm has a bias');
    for (const m of [unit, host, plain]) m.dispose();
  });

  it('folds its own BatchNorm, standalone and inlined, and the outputs stay', () => {
    for (const model of [new layers.ConvNormAct(3, 8, 3, { stride: 2 }), new Host()]) {
      randomizeNorms(model);
      model.eval();
      torch.tidy(() => {
        const x = torch.randn([2, 3, 9, 9]);
        const want = torch.noGrad(() => model.call(x));
        const folded = tools.prepareForInference(model as nn.Module, { fuse: true, layout: 'dense' });
        assert.ok(![...folded.namedModules()].some(([, m]) => m instanceof nn.BatchNorm2d), 'no BatchNorm left');
        assert.ok(maxDiff(torch.noGrad(() => folded.call(x)), want) < 1e-5);
      });
      model.dispose();
    }
  });
});

describe('SqueezeExcite', () => {
  it("has timm's fc1/fc2 biased 1x1 convolutions, reduced width rounded to 8", () => {
    const se = new layers.SqueezeExcite(256);
    assert.deepEqual(Object.fromEntries(Object.entries(se.stateDict()).map(([k, t]) => [k, t.shape])), {
      'fc1.weight': [16, 256, 1, 1],
      'fc1.bias': [16],
      'fc2.weight': [256, 16, 1, 1],
      'fc2.bias': [256],
    });
    assert.equal(new layers.SqueezeExcite(64).width, 8, '64 / 16 = 4 rounds up to the divisor 8');
    assert.equal(new layers.SqueezeExcite(64, { width: 5 }).width, 5, 'an explicit width');
    assert.equal(new layers.SqueezeExcite(64, { reduction: 1 / 4 }).width, 16);
    torch.tidy(() => {
      const x = torch.randn([2, 256, 4, 4]);
      // Gate in (0, 1): the output keeps the sign of the input and is smaller in magnitude.
      const y = se.call(x);
      assert.deepEqual(y.shape, x.shape);
      assert.ok(y.abs().le(x.abs()).all().item() === 1);
      // gate: 'identity' with an all-zero fc2 scales by fc2's bias.
      const flat = new layers.SqueezeExcite(4, { width: 2, gate: 'identity' });
      torch.noGrad(() => {
        flat.fc2.weight.zero_();
        flat.fc2.bias!.fill_(2);
      });
      const z = torch.randn([1, 4, 3, 3]);
      assert.ok(maxDiff(flat.call(z), z.mul(2)) < 1e-6);
      flat.dispose();
    });
    se.dispose();
  });
});

describe('DropPath', () => {
  it('is the identity in eval mode and with p = 0', () => {
    torch.tidy(() => {
      const x = torch.randn([8, 3, 2, 2]);
      const drop = new layers.DropPath(0.5).eval();
      assert.equal(drop.call(x), x);
      assert.equal(new layers.DropPath(0).call(x), x);
    });
  });

  it('drops whole samples in training and scales the kept ones by 1 / (1 - p); the mask follows the seed', () => {
    torch.tidy(() => {
      const x = torch.ones([400, 2, 2, 2]);
      torch.manualSeed(7);
      const y = new layers.DropPath(0.25).call(x);
      const perSample = y.reshape([400, 8]);
      const first = perSample.select(1, 0);
      assert.ok(perSample.eq(first.unsqueeze(1)).all().item() === 1, 'one decision per sample');
      const values = new Set(Array.from(first.toTypedArray() as Float32Array, (v) => Math.round(v * 1e5) / 1e5));
      assert.deepEqual([...values].sort(), [0, 1.33333]);
      const kept = first.gt(0).sum().item() / 400;
      assert.ok(kept > 0.65 && kept < 0.85, `kept ${kept}`);
      torch.manualSeed(7);
      assert.equal(maxDiff(new layers.DropPath(0.25).call(x), y), 0, 'same seed, same mask');
    });
  });

  it("per-block rates rise linearly from 0 to the rate over the whole network (timm's rule)", () => {
    const rates = layers.dropPathRates([2, 3, 1], 0.1);
    assert.deepEqual(rates.map((stage) => stage.length), [2, 3, 1]);
    rates.flat().forEach((rate, i) => assert.ok(Math.abs(rate - (0.1 * i) / 5) < 1e-12));
    assert.deepEqual(layers.dropPathRates([1], 0.3), [[0]]);
  });
});

describe('ClassifierHead', () => {
  it('pools by kind: avg, max, avgmax, catavgmax, and none', () => {
    torch.tidy(() => {
      const x = torch.randn([2, 4, 3, 3]);
      const avg = x.mean([2, 3]);
      const maxValues = (x.flatten(2).max(2) as { values: torch.Tensor }).values;
      const pooled = (pool: layers.GlobalPool) => new layers.ClassifierHead(4, 0, { globalPool: pool }).call(x);
      assert.ok(maxDiff(pooled('avg'), avg) < 1e-6);
      assert.ok(maxDiff(pooled('max'), maxValues) < 1e-6);
      assert.ok(maxDiff(pooled('avgmax'), avg.add(maxValues).mul(0.5)) < 1e-6);
      assert.ok(maxDiff(pooled('catavgmax'), torch.cat([avg, maxValues], 1)) < 1e-6);
      assert.deepEqual(pooled('').shape, [2, 4, 3, 3]);
      assert.throws(() => new layers.ClassifierHead(4, 10, { globalPool: '' }), /globalPool '' \(no pooling\) needs numClasses 0 or a convolutional classifier/);
      assert.throws(() => new layers.ClassifierHead(4, 10, { globalPool: 'mean' as layers.GlobalPool }), /globalPool must be one of 'avg', 'max'/);
      const conv = new layers.ClassifierHead(4, 5, { useConv: true });
      assert.deepEqual(conv.fc.stateDict()['weight'].shape, [5, 4, 1, 1]);
      assert.deepEqual(conv.call(x).shape, [2, 5]);
      assert.deepEqual(conv.run(x, { preLogits: true }).shape, [2, 4]);
      conv.dispose();
    });
  });

  it('reset swaps the fc (catavgmax doubles its input) and the new fc trains', () => {
    const head = new layers.ClassifierHead(4, 3);
    head.reset(6, 'catavgmax');
    assert.equal(head.numFeatures, 8);
    assert.deepEqual(head.fc.stateDict()['weight'].shape, [6, 8]);
    head.reset(0);
    assert.equal(head.numClasses, 0);
    assert.equal(head.parameters().length, 0);
    head.dispose();
  });
});
