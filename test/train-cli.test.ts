// `resnets train` and `resnets eval` on a tiny image folder made with sharp, run as a
// user runs them: the run folder's files, a corrupt image skipped and counted (or an
// error naming it with --strict), an empty class folder, a batch size larger than the
// data, a NaN loss, and eval's metrics and confusion matrix.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import * as io from '../src/io/index.js';
import { randn } from '../src/torch/creation.js';
import { noGrad } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import type { Tensor } from '../src/torch/tensor.js';
import { readWeightsInfo } from '../src/train/checkpoint.js';
import { prepareData } from '../src/train/data-setup.js';
import { loadTrainedModel } from '../src/train/trained-model.js';
import { writeCifar10 } from './helpers/cifar-files.js';
import { resnets, type CliResult } from './helpers/cli.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-train-cli-');
after(() => temp.cleanup());
const path = (...parts: string[]) => join(temp.path, ...parts);

/** A 20x20 PNG: class 0 a bright left half, class 1 a bright top half, class 2 a bright centre. */
async function writeImage(file: string, label: number, variant: number): Promise<void> {
  const size = 20;
  const pixels = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = label === 0 ? x < size / 2 : label === 1 ? y < size / 2 : Math.abs(x - 10) < 5 && Math.abs(y - 10) < 5;
      const value = (on ? 200 : 40) + ((x * 7 + y * 13 + variant * 31) % 30);
      pixels.set([value, value, (value + 60 * label) % 256], (y * size + x) * 3);
    }
  }
  await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(file);
}

const classes = ['circle', 'left', 'top'];

before(async () => {
  for (const split of ['train', 'test']) {
    for (const [label, name] of classes.entries()) {
      mkdirSync(path('shapes', split, name), { recursive: true });
      for (let i = 0; i < (split === 'train' ? 8 : 4); i++) await writeImage(path('shapes', split, name, `${i}.png`), [2, 0, 1][label], i + (split === 'test' ? 100 : 0));
    }
  }
  writeFileSync(path('shapes', 'train', 'left', 'broken.png'), Buffer.from('this is not a PNG file at all'));
  mkdirSync(path('single', 'only'), { recursive: true });
  for (let i = 0; i < 4; i++) await writeImage(path('single', 'only', `${i}.png`), 0, i);
  for (const name of ['a', 'b']) mkdirSync(path('empty', name), { recursive: true });
  await writeImage(path('empty', 'a', '0.png'), 0, 0);
});

const tiny = ['--image-size', '16', '--epochs', '2', '--batch-size', '8', '--no-progress', '--seed', '1'];

describe('resnets train on an image folder', () => {
  let trained: CliResult;
  before(async () => {
    trained = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('run'), ...tiny);
  });

  it('trains, skipping and counting the unreadable image', () => {
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stdout, /1 unreadable image was skipped: .*broken\.png/);
    assert.match(trained.stdout, /24 training images from .*train, 12 test images from .*test; 3 classes, 16x16, RGB/);
    assert.match(trained.stdout, /^epoch 2\/2 +train loss \d\.\d{4} acc [\d.]+% \| test loss/m);
    assert.match(trained.stdout, /finished 2 epochs/);
  });

  it('leaves config, metrics, checkpoints and curves in the run folder', () => {
    for (const name of ['config.json', 'metrics.jsonl', 'last.safetensors', 'best.safetensors', 'state.safetensors', 'curves.svg', 'classes.json']) {
      assert.ok(existsSync(path('run', name)), `${name} exists`);
    }
    const lines = readFileSync(path('run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
    assert.deepEqual(lines.map((l) => l.epoch), [1, 2]);
    for (const key of ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'lr', 'seconds']) assert.equal(typeof lines[1][key], 'number', key);
    const config = JSON.parse(readFileSync(path('run', 'config.json'), 'utf8')) as { model: string; seed: number; batchSize: number };
    assert.deepEqual([config.model, config.seed, config.batchSize], ['resnet20', 1, 8]);
    const info = readWeightsInfo(path('run', 'best.safetensors'))!;
    assert.deepEqual(info.classes, classes);
    assert.deepEqual(info.inputShape, [3, 16, 16]);
    const trainedModel = loadTrainedModel(path('run', 'best.safetensors'), 'resnet20')!;
    assert.deepEqual([trainedModel.model.inChans, trainedModel.model.numClasses], [3, 3]);
    trainedModel.model.dispose();
    assert.throws(() => loadTrainedModel(path('run', 'best.safetensors'), 'resnet56'), /holds resnet20 weights, not resnet56/);
    const svg = readFileSync(path('run', 'curves.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, />Loss</);
    assert.match(svg, />Accuracy</);
  });

  it('refuses to overwrite a run without --resume', async () => {
    const again = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('run'), ...tiny);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds a training run; continue it with --resume/);
  });

  it('eval prints loss, top-1 (no top-5 for 3 classes) and a confusion matrix with the class names', async () => {
    const result = await resnets('eval', 'resnet20', '--weights', path('run', 'best.safetensors'), '--data', path('shapes'));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /images 12 {2}loss \d+\.\d{4} {2}top-1 [\d.]+% {2}\(/);
    for (const name of classes) assert.match(result.stdout, new RegExp(`^${name} +\\d+ +\\d+ +\\d+ `, 'm'));
    const json = JSON.parse((await resnets('eval', 'resnet20', '--weights', path('run', 'best.safetensors'), '--data', path('shapes'), '--json')).stdout) as {
      images: number;
      confusion: number[][];
    };
    assert.equal(json.images, 12);
    assert.equal(json.confusion.flat().reduce((a, b) => a + b, 0), 12);
  });

  it("predict reads the model, input size and class names from the run's weights", async () => {
    const images = [path('shapes', 'test', 'left', '0.png'), path('shapes', 'test', 'top', '1.png')];
    const result = await resnets('predict', 'resnet20', '--weights', path('run', 'best.safetensors'), '--top', '3', '--json', ...images);
    assert.equal(result.code, 0, result.stderr);
    const predictions = JSON.parse(result.stdout) as { image: string; predictions: { label: string; probability: number }[] }[];
    assert.deepEqual(predictions.map((p) => p.image), images);
    for (const { predictions: top } of predictions) {
      assert.deepEqual(top.map((p) => p.label).sort(), [...classes].sort());
      assert.ok(Math.abs(top.reduce((sum, p) => sum + p.probability, 0) - 1) < 1e-5);
      assert.ok(top[0].probability >= top[1].probability && top[1].probability >= top[2].probability);
    }
    const text = await resnets('predict', 'resnet20', '--weights', path('run', 'best.safetensors'), '--top', '1', images[0]);
    assert.match(text.stdout, new RegExp(`^ +[\\d.]+% {2}(${classes.join('|')}) \\(\\d\\)$`, 'm'));
    const other = await resnets('predict', 'resnet32', '--weights', path('run', 'best.safetensors'), images[0]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /holds resnet20 weights, not resnet32/);
  });

  it("run takes a training run's weights and gives the same logits as the model loaded in-process", async () => {
    const weights = path('run', 'best.safetensors');
    const input = tidy(() => randn([2, 3, 16, 16]).keep());
    io.save(input, path('input.npy'));
    const result = await resnets('run', 'resnet20', '--weights', weights, '--input', path('input.npy'), '--output', path('output.npy'));
    assert.equal(result.code, 0, result.stderr);
    const output = io.load(path('output.npy')) as Tensor;
    const { model } = loadTrainedModel(weights, 'resnet20')!;
    model.eval();
    const expected = tidy(() => noGrad(() => model.call(input)).keep());
    assert.deepEqual(output.shape, [2, 3]);
    assert.deepEqual(output.toArray(), expected.toArray());
    for (const tensor of [input, output, expected]) tensor.dispose();
    model.dispose();
  });

  it('eval refuses weights of another model', async () => {
    const result = await resnets('eval', 'resnet32', '--weights', path('run', 'best.safetensors'), '--data', path('shapes'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /holds resnet20 weights, not resnet32/);
  });
});

describe('resnets train on bad input', () => {
  it('--strict fails naming the unreadable image', async () => {
    const result = await resnets('train', 'resnet20', '--data', path('shapes'), '--strict', '--out', path('strict'), ...tiny);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unreadable image file: .*broken\.png/);
  });

  it('an empty class folder is an error naming it', async () => {
    const result = await resnets('train', 'resnet20', '--data', path('empty'), '--out', path('empty-run'), ...tiny);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /class folder .*empty.b holds no images/);
  });

  it('a batch size larger than the data trains on one batch of everything, with a warning', async () => {
    const result = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('big-batch'), ...tiny, '--batch-size', '1000', '--epochs', '1');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /batch size 1000 is larger than the 24 training images; using batches of 24/);
    assert.match(result.stdout, /; 1 step per epoch;/);
  });

  it('a NaN loss stops with the step and learning rate, and a non-zero exit', async () => {
    const result = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('nan'), ...tiny, '--lr', '1e30', '--warmup-epochs', '0', '--epochs', '3');
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /loss became (NaN|Infinity) at step \d+ \(epoch \d, lr [\d.e+]+\); (last good checkpoint kept at .*last\.safetensors|no checkpoint had been written yet)|the model gave \d+ NaN or infinite outputs .* for evaluation batch|the weights hold NaN or infinite values/,
    );
  });

  it('a huge or overflowing learning rate never leaves a checkpoint that predicts NaN', async () => {
    for (const [lr, schedule] of [['1e30', 'constant'], ['1e308', 'constant'], ['1e308', 'cosine'], ['1e300', 'cosine']]) {
      const out = path(`huge-${lr}-${schedule}`);
      const result = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', out, ...tiny, '--lr', lr, '--schedule', schedule, '--warmup-epochs', '0', '--epochs', '3');
      assert.equal(result.code, 1, `--lr ${lr} --schedule ${schedule} exited ${result.code}: ${result.stdout}`);
      assert.match(result.stderr, /loss became|NaN or infinite|the learning-rate schedule \(.*\) gives (Infinity|1e\+30[08]) at step 1/);
      for (const file of ['last.safetensors', 'best.safetensors']) {
        if (!existsSync(join(out, file))) continue;
        const checked = await resnets('eval', 'resnet20', '--weights', join(out, file), '--data', path('shapes'), '--json');
        assert.equal(checked.code, 0, `${file} of --lr ${lr}: ${checked.stderr}`);
      }
    }
  });

  it('eval, predict and run report NaN outputs as an error, never as a class', async () => {
    const weights = path('run', 'best.safetensors');
    const broken = path('nan-weights.safetensors');
    const dict = io.load(weights) as Record<string, Tensor>;
    noGrad(() => dict['fc.weight'].fill_(Number.NaN));
    io.saveSafetensors(dict, broken, io.loadSafetensorsMetadata(weights));
    for (const tensor of Object.values(dict)) tensor.dispose();
    const evaluated = await resnets('eval', 'resnet20', '--weights', broken, '--data', path('shapes'));
    assert.equal(evaluated.code, 1);
    assert.match(evaluated.stderr, /the model gave (\d+) NaN or infinite outputs \(of \1\) for evaluation batch 1 of \d+/);
    const image = path('shapes', 'test', 'left', '0.png');
    const predicted = await resnets('predict', 'resnet20', '--weights', broken, image);
    assert.equal(predicted.code, 1);
    assert.match(predicted.stderr, /the model gave 3 NaN or infinite outputs \(of 3\) for .*0\.png/);
    const input = tidy(() => randn([1, 3, 16, 16]));
    io.save(input, path('nan-input.npy'));
    input.dispose();
    const ran = await resnets('run', 'resnet20', '--weights', broken, '--input', path('nan-input.npy'), '--output', path('nan-output.npy'));
    assert.equal(ran.code, 1);
    assert.match(ran.stderr, /NaN or infinite outputs \(of 3\) .*nothing was written/);
    assert.equal(existsSync(path('nan-output.npy')), false);
  });

  it('a folder of a single class trains with a warning that its accuracy means nothing', async () => {
    const result = await resnets('train', 'resnet20', '--data', path('single'), '--out', path('single-run'), ...tiny, '--epochs', '1');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout + result.stderr, /warning: the data has a single class \('only'\): every prediction is that class, so accuracy is 100% by construction/);
  });

  it('a run that failed before its first checkpoint can be started again in its folder', async () => {
    const failed = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('restart'), ...tiny, '--lr', '1e30', '--warmup-epochs', '0', '--epochs', '1');
    assert.match(failed.stderr, /no checkpoint had been written yet/);
    const resumed = await resnets('train', '--resume', path('restart'));
    assert.equal(resumed.code, 1);
    assert.match(resumed.stderr, /stopped before its first checkpoint \(start it again without --resume\)/);
    const again = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('restart'), ...tiny, '--epochs', '1');
    assert.equal(again.code, 0, again.stderr);
  });

  it('--resume names every option it ignores, and --epochs extends the run for later resumes', async () => {
    const first = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('extend'), ...tiny, '--epochs', '1');
    assert.equal(first.code, 0, first.stderr);
    const longer = await resnets('train', '--resume', path('extend'), '--epochs', '2', '--momentum', '0.5', '--no-augment', '--label-smoothing', '0.1', '--no-progress');
    assert.equal(longer.code, 0, longer.stderr);
    assert.match(longer.stdout, /ignoring --momentum, --label-smoothing, --no-augment/);
    assert.match(longer.stdout, /the run now has 2 epochs instead of 1/);
    assert.match(longer.stdout, /finished 2 epochs/);
    assert.equal((JSON.parse(readFileSync(path('extend', 'config.json'), 'utf8')) as { epochs: number }).epochs, 2);
    const done = await resnets('train', '--resume', path('extend'));
    assert.match(done.stderr, /already finished its 2 epochs/);
  });

  it("trains in oneDNN's blocked layout where it applies, says which layout it took, and --mkldnn / --no-mkldnn may change on --resume", async () => {
    const automatic = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('blocked'), ...tiny, '--epochs', '1');
    assert.equal(automatic.code, 0, automatic.stderr);
    assert.match(automatic.stdout, /^layout: oneDNN's blocked layout for the activations \(--no-mkldnn trains dense NCHW\)$/m);
    assert.match(automatic.stdout, /finished 1 epoch/);
    const required = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('blocked-required'), ...tiny, '--epochs', '1', '--mkldnn');
    assert.equal(required.code, 0, required.stderr);
    assert.match(required.stdout, /^layout: oneDNN's blocked layout for the activations \(--mkldnn\)$/m);
    const resumed = await resnets('train', '--resume', path('blocked'), '--epochs', '2', '--no-mkldnn', '--no-progress');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.doesNotMatch(resumed.stdout, /ignoring/);
    assert.match(resumed.stdout, /^layout: dense NCHW \(--no-mkldnn\)$/m);
    assert.match(resumed.stdout, /finished 2 epochs/);
    const se = await resnets('train', 'seresnet18', '--data', path('shapes'), '--out', path('se-dense'), ...tiny, '--epochs', '1');
    assert.equal(se.code, 0, se.stderr);
    assert.match(se.stdout, /^layout: dense NCHW \(oneDNN's blocked layout has no kernel for layer1\.0\.se \(SqueezeExcite\) .*aten::mean/m);
    const bf16 = await resnets('train', 'resnet20', '--data', path('shapes'), '--out', path('blocked-bf16'), ...tiny, '--mkldnn', '--precision', 'bf16');
    assert.equal(bf16.code, 1);
    assert.match(bf16.stderr, /--mkldnn trains in float32 only/);
    const refused = await resnets('train', 'seresnet18', '--data', path('shapes'), '--out', path('blocked-se'), ...tiny, '--mkldnn');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--mkldnn: this model cannot train in oneDNN's blocked layout: layer1\.0\.se \(SqueezeExcite\)/);
    assert.equal(existsSync(path('blocked-se')), false, 'nothing is written for a refused run');
  });

  it('--limit-train on a folder keeps every class', async () => {
    const data = await prepareData({ data: path('shapes'), imageSize: 16, limitTrain: 6 }, { train: true, test: false });
    const labels = await Promise.all(Array.from({ length: data.train!.length }, async (_, i) => (await data.train!.get(i)).label));
    assert.deepEqual(labels, [0, 0, 1, 1, 2, 2]);
  });

  it('an unknown model or data source is a clear error', async () => {
    const model = await resnets('train', 'resnet21', '--data', path('shapes'), '--out', path('x'));
    assert.equal(model.code, 1);
    assert.match(model.stderr, /unknown model 'resnet21'/);
    const data = await resnets('train', 'resnet20', '--data', path('nowhere'), '--out', path('y'));
    assert.equal(data.code, 1);
    assert.match(data.stderr, /--data must be one of fashion-mnist, mnist, cifar10, cifar100 or a folder/);
  });

  it('trains on CIFAR-10 read from its binary release (--data cifar10 --data-dir)', async () => {
    writeCifar10(path('cifar', 'cifar-10-batches-bin'), 4, 6);
    const run = await resnets('train', 'resnet20', '--data', 'cifar10', '--data-dir', path('cifar'), '--epochs', '1', '--batch-size', '10', '--threads', '1', '--no-progress', '--out', path('cifar-run'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /CIFAR-10: 20 training and 6 test images, 32x32 RGB, 10 classes/);
    const info = readWeightsInfo(path('cifar-run', 'last.safetensors'))!;
    assert.deepEqual(info.inputShape, [3, 32, 32]);
    assert.equal(info.classes[0], 'airplane');
    assert.deepEqual(JSON.parse(readFileSync(path('cifar-run', 'config.json'), 'utf8')).data, { data: 'cifar10', dataDir: path('cifar') });
  });

  it('recipe options: bad values and combinations are named; options without their partner are noted', async () => {
    const policy = await resnets('train', 'resnet20', '--data', path('shapes'), '--auto-augment', 'autoaugment', '--out', path('z'));
    assert.equal(policy.code, 2);
    assert.match(policy.stderr, /--auto-augment.*expected one of randaugment, trivialaugment, got 'autoaugment'/);
    const warmup = await resnets('train', 'resnet20', '--data', path('shapes'), '--schedule', 'onecycle', '--warmup-epochs', '1', '--out', path('w'));
    assert.equal(warmup.code, 1);
    assert.match(warmup.stderr, /onecycle has its own warm-up/);
    const noted = await resnets('train', 'resnet20', '--data', path('nowhere'), '--pct-start', '0.2', '--ra-magnitude', '5', '--out', path('v'));
    assert.match(noted.stdout, /note: --pct-start applies only with --schedule onecycle; ignored/);
    assert.match(noted.stdout, /note: --ra-magnitude applies only with --auto-augment randaugment; ignored/);
  });
});
