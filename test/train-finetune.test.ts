// Fine-tuning as torchvision users do it: a resnet18 saved by torchvision (random
// weights, 1000 classes; scripts/finetune_reference.py) trained on a generated
// three-class folder with `resnets train --weights`. The classifier is re-initialised
// with a line saying so, the loss falls, and `--freeze` leaves every layer but the
// classifier as loaded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import { createModel } from '../src/models/index.js';
import * as nn from '../src/nn/index.js';
import * as torch from '../src/torch/index.js';
import { loadPretrained } from '../src/train/pretrained.js';
import { resnets } from './helpers/cli.js';
import { writeColourFolder } from './helpers/image-folder.js';
import { runPython, tempDir } from './helpers/python.js';

const temp = tempDir('resnets-finetune-');
after(() => temp.cleanup());
const checkpoint = join(temp.path, 'resnet18-torchvision.pth');
const folder = join(temp.path, 'colours');

const trainLosses = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { trainLoss: number }).trainLoss);

describe('fine-tuning from a torchvision checkpoint', { timeout: 240_000 }, () => {
  before(async () => {
    assert.equal(runPython('finetune_reference.py', [checkpoint]).trim(), '1000');
    await writeColourFolder(folder, { classes: 3, perClass: 8, size: 32 });
  });

  it('resnets train --weights re-initialises the classifier, says so, and the loss falls', async () => {
    const run = join(temp.path, 'run');
    const { code, stdout, stderr } = await resnets('train', 'resnet18', '--weights', checkpoint, '--data', folder, '--image-size', '32', '--batch-size', '8',
      '--epochs', '4', '--lr', '0.01', '--warmup-epochs', '0', '--no-augment', '--threads', '1', '--no-progress', '--out', run);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /classifier 'fc' re-initialised: the checkpoint's has 1000 classes, this model 3/);
    const losses = trainLosses(run);
    assert.equal(losses.length, 4);
    assert.ok(losses[3] < losses[0] * 0.8, `the training loss falls: ${losses.map((l) => l.toFixed(3)).join(', ')}`);
  });

  it('--freeze trains the classifier only', async () => {
    const run = join(temp.path, 'frozen');
    const { code, stdout, stderr } = await resnets('train', 'resnet18', '--weights', checkpoint, '--freeze', '--data', folder, '--image-size', '32',
      '--batch-size', '8', '--epochs', '3', '--lr', '0.01', '--warmup-epochs', '0', '--no-augment', '--threads', '1', '--no-progress', '--out', run);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /--freeze: training the classifier only \(11,176,512 parameters frozen\)/);
    const original = io.load(checkpoint);
    const trained = io.load(join(run, 'last.safetensors'));
    try {
      for (const key of ['conv1.weight', 'layer1.0.conv1.weight', 'layer4.1.bn2.weight', 'layer4.1.bn2.bias']) {
        assert.ok(trained[key].allclose(original[key], 0, 0), `${key} is as loaded`);
      }
      assert.deepEqual(trained['fc.weight'].shape, [3, 512]);
      const losses = trainLosses(run);
      assert.ok(losses[2] < losses[0], `the head learns: ${losses.join(', ')}`);
    } finally {
      torch.dispose([original, trained]);
    }
  });

  it('a checkpoint of another architecture is refused, naming the keys', () => {
    const model = createModel('resnet34', { numClasses: 3 });
    const dict = io.load(checkpoint);
    try {
      assert.throws(() => loadPretrained(model, dict, 'resnet18.pth'), /'resnet18\.pth' does not fit resnet34: missing keys: layer1\.2\.conv1\.weight/);
    } finally {
      torch.dispose(dict);
      model.dispose();
    }
  });

  it('setSubmodule swaps the classifier for a new layer in forward and the state dict', () => {
    const model = createModel('resnet18', { numClasses: 1000 });
    try {
      const old = model.setSubmodule('fc', new nn.Linear(512, 5));
      old.dispose();
      torch.tidy(() => {
        assert.deepEqual(model.stateDict()['fc.weight'].shape, [5, 512]);
        const logits = torch.noGrad(() => model.eval().call(torch.randn([1, 3, 32, 32])));
        assert.deepEqual(logits.shape, [1, 5]);
      });
      assert.throws(() => model.setSubmodule('layer9.0', new nn.Identity()), /getSubmodule\('layer9'\): ResNet has no child 'layer9'; its children: conv1, bn1/);
      assert.throws(() => model.setSubmodule('layer1.5', new nn.Identity()), /has no child '5' to replace/);
    } finally {
      model.dispose();
    }
  });
});
