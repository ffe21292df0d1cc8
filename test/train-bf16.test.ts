// bfloat16 mixed-precision training as PyTorch's CPU autocast: the autocast region
// (what runs in bfloat16, nesting, state restored on every path), gradients close to the
// float32 ones, float32 master weights and optimizer state, a few steps lowering the
// loss, checkpointed segments recomputed under autocast, and `resnets train --precision`
// saved in the run so that --resume keeps it. (Resume exactness under bf16: train-loop.test.ts.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { models, nn, torch, train } from '../src/index.js';
import type { Tensor } from '../src/torch/tensor.js';
import { resnets } from './helpers/cli.js';
import { tempDir } from './helpers/python.js';

torch.setNumThreads(1);

const tinyResNet = (seed: number) => {
  torch.manualSeed(seed);
  return models.createModelFromConfig({ family: 'cifar_resnet', depth: 10, widths: [8, 16], numClasses: 4 });
};

/** Every parameter's gradient after one forward and backward at `precision` (gradients reset first). */
function gradients(model: nn.Module, images: Tensor, labels: Tensor, precision: train.TrainingPrecision): Tensor[] {
  model.zeroGrad();
  return torch.tidy(() => {
    train.forwardAndLoss(model, images, labels, train.crossEntropyLoss(), { precision }).loss.backward();
    return model.parameters().map((p) => torch.keep(p.grad!.clone()));
  });
}

const flat = (tensors: Tensor[]) => torch.cat(tensors.map((t) => t.flatten()));

describe('torch.autocast', () => {
  it('runs convolutions and matmuls in bfloat16 inside the region and float32 outside', () => {
    torch.tidy(() => {
      const x = torch.randn([2, 3, 8, 8]);
      const weight = torch.randn([4, 3, 3, 3]).requiresGrad_();
      const a = torch.randn([5, 6]);
      const b = torch.randn([6, 7]);
      const inside = torch.autocast('bfloat16', () => ({ conv: torch.conv2d(x, weight), matmul: a.matmul(b), on: torch.isAutocastEnabled() }));
      assert.equal(inside.conv.dtype, 'bfloat16');
      assert.equal(inside.matmul.dtype, 'bfloat16');
      assert.equal(inside.on, true);
      assert.equal(torch.isAutocastEnabled(), false);
      assert.equal(torch.conv2d(x, weight).dtype, 'float32');
      // The gradient reaches the float32 weight in float32.
      inside.conv.float().sum().backward();
      assert.equal(weight.grad!.dtype, 'float32');
    });
  });

  it('nests (an inner enabled: false turns it off), and puts the state back after a throw or a Promise', () => {
    torch.tidy(() => {
      const a = torch.randn([4, 4]);
      const dtypes = torch.autocast('bfloat16', () => {
        const off = torch.autocast('bfloat16', () => a.matmul(a).dtype, { enabled: false });
        return [off, a.matmul(a).dtype];
      });
      assert.deepEqual(dtypes, ['float32', 'bfloat16']);
      assert.throws(() => torch.autocast('bfloat16', () => { throw new Error('inside'); }), /inside/);
      assert.equal(torch.isAutocastEnabled(), false);
      assert.throws(() => torch.autocast('bfloat16', async () => 1), /synchronous function/);
      assert.equal(torch.isAutocastEnabled(), false);
      assert.throws(() => torch.autocast('float16', () => 1), /dtype 'float16' is not supported on cpu; expected 'bfloat16'/);
      assert.throws(() => torch.autocast('bfloat16', () => 1, { device: 'tpu' as 'cpu' }), /device must be 'cpu' or 'cuda', got 'tpu'/);
    });
  });
});

describe('bf16 training', () => {
  const images = torch.randn([32, 3, 16, 16]);
  const labels = torch.randint(0, 4, [32]);
  after(() => torch.dispose([images, labels]));

  it('gives gradients close to the float32 ones, in float32', () => {
    const model = tinyResNet(0).train();
    const fp32 = gradients(model, images, labels, 'fp32');
    const bf16 = gradients(model, images, labels, 'bf16');
    for (const g of bf16) assert.equal(g.dtype, 'float32');
    torch.tidy(() => {
      const [a, b] = [flat(fp32), flat(bf16)];
      // bfloat16 keeps 8 significant bits (a relative rounding of 2^-9 per value): the
      // gradients differ, but point the same way.
      const cosine = torch.cosineSimilarity(a, b, 0).item();
      const relative = a.sub(b).norm().item() / a.norm().item();
      assert.ok(cosine > 0.99, `cosine similarity ${cosine}`);
      assert.ok(relative > 0, 'bf16 arithmetic was used');
      assert.ok(relative < 0.15, `relative difference ${relative}`);
    });
    torch.dispose([...fp32, ...bf16]);
    model.dispose();
  });

  it('lowers the loss in a few steps, keeping weights, norms and momentum in float32', () => {
    const model = tinyResNet(1).train();
    const optimizer = new train.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const losses = Array.from({ length: 8 }, () => train.trainingStep({ model, optimizer, images, labels, loss: train.crossEntropyLoss(), precision: 'bf16' }).loss);
    assert.ok(losses[7] < losses[0], `loss ${losses[0]} -> ${losses[7]}`);
    for (const [key, tensor] of Object.entries(model.stateDict())) {
      if (key.endsWith('num_batches_tracked')) continue;
      assert.equal(tensor.dtype, 'float32', key);
    }
    for (const [key, tensor] of Object.entries(optimizer.stateDict().tensors)) assert.equal(tensor.dtype, 'float32', key);
    optimizer.disposeState();
    model.dispose();
  });

  it('recomputes checkpointed segments under autocast: the same gradients as without checkpointing', () => {
    const plain = tinyResNet(2).train();
    const checkpointed = tinyResNet(2).train();
    (checkpointed as models.ImageClassifier).setGradCheckpointing(true);
    const expected = gradients(plain, images, labels, 'bf16');
    const actual = gradients(checkpointed, images, labels, 'bf16');
    expected.forEach((g, i) => assert.ok(torch.tidy(() => g.sub(actual[i]).abs().max().item()) <= 1e-6 * Math.max(1, torch.tidy(() => g.abs().max().item())), `parameter ${i}`));
    torch.dispose([...expected, ...actual]);
    plain.dispose();
    checkpointed.dispose();
  });
});

describe('resnets train --precision', () => {
  const dir = tempDir('resnets-bf16-');
  after(() => dir.cleanup());
  const quick = ['--data', 'fashion-mnist', '--limit-train', '64', '--limit-test', '32', '--batch-size', '32', '--no-progress', '--threads', '1'];

  it('trains in bf16, saves it in the run config, and --resume keeps it', async () => {
    const out = join(dir.path, 'run');
    const first = await resnets('train', 'resnet20', ...quick, '--epochs', '1', '--precision', 'bf16', '--out', out);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /precision: bf16 \(convolutions and matmuls in bfloat16/);
    assert.match(first.stdout, /^layout: channels-last, the default with --precision bf16 \(--no-mkldnn trains dense NCHW\)$/m);
    const config = () => JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { precision?: string };
    assert.equal(config().precision, 'bf16');
    const resumed = await resnets('train', '--resume', out, '--epochs', '2', '--precision', 'fp32', '--no-progress');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /ignoring --precision/);
    assert.match(resumed.stdout, /precision: bf16/);
    assert.match(resumed.stdout, /^layout: channels-last, the default/m);
    assert.equal(config().precision, 'bf16');
  });

  it('trains channels-last by default, as chooseTrainingLayout says, and dense NCHW with mkldnn: false', async () => {
    const convWeight = async (mkldnn: false | undefined, name: string) => {
      const lines: string[] = [];
      const session = await train.runSession(
        { model: 'resnet20', data: { data: 'fashion-mnist', limitTrain: 32, limitTest: 16 }, epochs: 1, batchSize: 16, precision: 'bf16' },
        { out: join(dir.path, name), prefetch: 1, log: (line) => lines.push(line), ...(mkldnn === false ? { mkldnn } : {}) },
      );
      try {
        const weight = session.model.stateDict()['layer1.0.conv1.weight']; // 16 in, 16 out: the two layouts differ
        return { channelsLast: weight.isContiguous('channelsLast') && !weight.isContiguous(), layout: lines.find((line) => line.startsWith('layout:')) };
      } finally {
        session.model.dispose();
      }
    };
    const byDefault = await convWeight(undefined, 'default-layout');
    assert.deepEqual(byDefault, { channelsLast: true, layout: 'layout: channels-last, the default with --precision bf16 (--no-mkldnn trains dense NCHW)' });
    const dense = await convWeight(false, 'dense-layout');
    assert.deepEqual(dense, { channelsLast: false, layout: 'layout: dense NCHW (--no-mkldnn)' });
  });

  it('names the accepted values of a bad --precision', async () => {
    const bad = await resnets('train', 'resnet20', ...quick, '--precision', 'fp16', '--out', join(dir.path, 'bad'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--precision.*expected one of fp32, bf16, got 'fp16'/);
  });
});
