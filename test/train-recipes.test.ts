// Mixup and CutMix (timm's batch mode), the soft-target loss, and model EMA arithmetic.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nn, torch } from '../src/index.js';
import { Random } from '../src/data/random.js';
import { ModelEma } from '../src/train/ema.js';
import { softTargetCrossEntropy } from '../src/train/losses.js';
import { Mixup, cutmixBox, smoothedOneHot } from '../src/train/mixup.js';

torch.setNumThreads(1);

const rows = (t: torch.Tensor) => torch.tidy(() => t.toArray() as number[][]);
const flat = (t: torch.Tensor) => torch.tidy(() => Array.from(t.toTypedArray() as Float32Array));
const close = (a: number, b: number, tol = 1e-6) => Math.abs(a - b) <= tol;

function batch(n: number, classes: number) {
  return torch.tidy(() => ({
    images: torch.arange(0, n * 2 * 6 * 5).float().reshape(n, 2, 6, 5).keep(),
    labels: torch.tensor(Array.from({ length: n }, (_, i) => i % classes), { dtype: 'int64' }).keep(),
  }));
}

describe('mixup and CutMix', () => {
  it('mixup: images and soft targets are lam * own + (1 - lam) * the reversed batch; every target sums to 1', () => {
    const { images, labels } = batch(4, 3);
    const mixup = new Mixup({ mixupAlpha: 0.4, numClasses: 3, labelSmoothing: 0.1 });
    const out = mixup.apply(images, labels, new Random(2));
    assert.ok(out.lam > 0 && out.lam < 1 && !out.cutmix);
    const x = flat(images);
    const per = x.length / 4;
    const mixed = flat(out.images);
    for (let i = 0; i < x.length; i++) {
      const n = Math.floor(i / per);
      const partner = (3 - n) * per + (i % per);
      assert.ok(close(mixed[i], out.lam * x[i] + (1 - out.lam) * x[partner], 1e-4), `pixel ${i}`);
    }
    const targets = rows(out.targets);
    const labelList = [0, 1, 2, 0];
    targets.forEach((row, n) => {
      assert.ok(close(row.reduce((a, b) => a + b, 0), 1), `row ${n} sums to 1`);
      // Label smoothing 0.1 over 3 classes: off 1/30, on 1 - 0.1 + 1/30.
      const expected = [0, 1, 2].map((c) => {
        const own = c === labelList[n] ? 0.9 + 0.1 / 3 : 0.1 / 3;
        const other = c === labelList[3 - n] ? 0.9 + 0.1 / 3 : 0.1 / 3;
        return out.lam * own + (1 - out.lam) * other;
      });
      row.forEach((v, c) => assert.ok(close(v, expected[c]), `target [${n}, ${c}] = ${v}, expected ${expected[c]}`));
    });
    assert.deepEqual(flat(images), x, 'the input batch is left alone');
    torch.dispose([images, labels, out.images, out.targets]);
  });

  it('CutMix: the box is pasted from the reversed batch and lam is its area share', () => {
    const { images, labels } = batch(3, 3);
    const cutmix = new Mixup({ cutmixAlpha: 1, numClasses: 3 });
    let checked = 0;
    for (let seed = 0; seed < 10; seed++) {
      const out = cutmix.apply(images, labels, new Random(seed));
      assert.ok(out.cutmix && out.box);
      const [top, bottom, left, right] = out.box;
      assert.ok(close(out.lam, 1 - ((bottom - top) * (right - left)) / 30, 1e-12));
      const x = rows(images.reshape(3, -1));
      const mixed = rows(out.images.reshape(3, -1));
      for (let n = 0; n < 3; n++) {
        for (let c = 0; c < 2; c++) for (let y = 0; y < 6; y++) for (let xx = 0; xx < 5; xx++) {
          const i = c * 30 + y * 5 + xx;
          const inside = y >= top && y < bottom && xx >= left && xx < right;
          assert.equal(mixed[n][i], inside ? x[2 - n][i] : x[n][i]);
        }
      }
      const targets = rows(out.targets);
      targets.forEach((row) => assert.ok(close(row.reduce((a, b) => a + b, 0), 1)));
      checked++;
      torch.dispose([out.images, out.targets]);
    }
    assert.equal(checked, 10);
    torch.dispose([images, labels]);
  });

  it('the draws repeat with the same stream; prob 0 never mixes; both kinds appear with switchProb 0.5', () => {
    const both = new Mixup({ mixupAlpha: 0.8, cutmixAlpha: 1, numClasses: 10 });
    const draws = Array.from({ length: 200 }, (_, seed) => both.drawParams(new Random(seed)));
    assert.deepEqual(draws.slice(0, 20), Array.from({ length: 20 }, (_, seed) => both.drawParams(new Random(seed))));
    const cutmixShare = draws.filter((d) => d.cutmix).length / draws.length;
    assert.ok(cutmixShare > 0.35 && cutmixShare < 0.65, `CutMix share ${cutmixShare}`);
    // Beta(a, a) is symmetric about 1/2.
    const meanLam = draws.reduce((s, d) => s + d.lam, 0) / draws.length;
    assert.ok(Math.abs(meanLam - 0.5) < 0.06, `mean lam ${meanLam}`);
    const never = new Mixup({ mixupAlpha: 1, prob: 0, numClasses: 10 });
    assert.ok(Array.from({ length: 20 }, (_, seed) => never.drawParams(new Random(seed))).every((d) => d.lam === 1));
    assert.throws(() => new Mixup({ numClasses: 3 }), /mixupAlpha or cutmixAlpha/);
  });

  it('cutmixBox keeps to the image', () => {
    for (let seed = 0; seed < 50; seed++) {
      const [top, bottom, left, right] = cutmixBox(7, 9, 0.3, new Random(seed));
      assert.ok(top >= 0 && bottom <= 7 && top <= bottom && left >= 0 && right <= 9 && left <= right);
    }
  });
});

describe('soft-target cross-entropy', () => {
  it('equals torch cross-entropy on one-hot and on smoothed targets', () => {
    torch.tidy(() => {
      const logits = torch.randn([5, 4]);
      const labels = torch.tensor([0, 3, 1, 1, 2], { dtype: 'int64' });
      for (const smoothing of [0, 0.1]) {
        const soft = softTargetCrossEntropy(logits, smoothedOneHot(labels, 4, smoothing)).item();
        const hard = torch.crossEntropy(logits, labels, { labelSmoothing: smoothing }).item();
        assert.ok(close(soft, hard, 1e-5), `smoothing ${smoothing}: ${soft} vs ${hard}`);
      }
      assert.throws(() => softTargetCrossEntropy(logits, torch.zeros([5, 3])), /must both be \[batch, classes\]/);
    });
  });
});

describe('model EMA', () => {
  it('ema = decay * ema + (1 - decay) * model for weights and running statistics; counters are copied', () => {
    const make = () => new nn.Sequential(new nn.Linear(3, 2), new nn.BatchNorm1d(2));
    const model = make();
    const ema = new ModelEma(model, make(), { decay: 0.75 });
    assert.equal(ema.module.training, false);
    assert.ok(ema.module.parameters().every((p) => !p.requiresGrad));
    const expected = new Map(Object.entries(model.stateDict()).map(([k, t]) => [k, flat(t.float())]));
    for (let step = 1; step <= 4; step++) {
      torch.noGrad(() => {
        for (const p of model.parameters()) p.add_(step * 0.1);
        torch.tidy(() => model.call(torch.randn([4, 3]))); // moves the BatchNorm statistics
      });
      ema.update(model);
      for (const [key, tensor] of Object.entries(model.stateDict())) {
        const now = flat(tensor.float());
        expected.set(key, key.endsWith('num_batches_tracked') ? now : expected.get(key)!.map((e, i) => 0.75 * e + 0.25 * now[i]));
      }
    }
    for (const [key, tensor] of Object.entries(ema.module.stateDict())) {
      const got = flat(tensor.float());
      expected.get(key)!.forEach((e, i) => assert.ok(close(got[i], e, 1e-5), `${key}[${i}]: ${got[i]} vs ${e}`));
    }
    assert.deepEqual(flat(ema.module.stateDict()['1.num_batches_tracked'].float()), [4]);
    ema.dispose();
    model.dispose();
  });
});
