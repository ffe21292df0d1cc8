// The command line with InsightFace checkpoints: `run fresnet` and `summary fresnet` on
// an MXNet prefix-0000.params read the configuration from prefix-symbol.json beside it;
// `summary --convention mxnet` prints what mx.viz.print_summary prints; `convert` moves
// weights between .params, .safetensors and .pth (fresnet names mapped, plain state
// dicts as they are); --model-options reaches every family.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import * as models from '../src/models/index.js';
import * as torch from '../src/torch/index.js';
import { resnets } from './helpers/cli.js';
import { relativeError } from './helpers/models-reference.js';
import { runPython, tempDir } from './helpers/python.js';

const dir = tempDir('resnets-cli-insightface-');
after(() => dir.cleanup());
const ID = 'model';
const path = (name: string) => join(dir.path, name);
before(() => {
  const spec = [{ id: ID, config: { units: [1, 1, 1, 1], version_unit: 3, version_input: 1, version_se: 1, version_output: 'E', emb_size: 32 }, input: [2, 3, 32, 32], seed: 3 }];
  runPython('fresnet_reference.py', ['fixtures', dir.path, JSON.stringify(spec)]);
});

function assertOutput(file: string, label: string): void {
  const [output, expected] = [io.loadNpy(file), io.loadNpy(path(`${ID}-output.npy`))];
  try {
    assert.ok(relativeError(output, expected) < 1e-4, label);
  } finally {
    output.dispose();
    expected.dispose();
  }
}

describe('resnets with InsightFace checkpoints', () => {
  it('run fresnet --weights prefix-0000.params needs nothing else', async () => {
    const result = await resnets('run', 'fresnet', '--weights', path(`${ID}-0000.params`), '--input', path(`${ID}-input.npy`), '--output', path('out.npy'));
    assert.equal(result.code, 0, result.stderr);
    assertOutput(path('out.npy'), 'the output of the checkpoint the symbol describes');
  });

  it('summary fresnet --weights: the true count, and print_summary\'s with --convention mxnet', async () => {
    const counts = JSON.parse(readFileSync(path(`${ID}.json`), 'utf8')) as { params: number; mxnet_summary: number };
    const result = await resnets('summary', 'fresnet', '--weights', path(`${ID}-0000.params`), '--convention', 'mxnet', '--input', '1x3x32x32');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`Total params: +${counts.params.toLocaleString('en-US')}\\n`));
    assert.match(result.stdout, new RegExp(`MXNet print_summary total params: ${counts.mxnet_summary.toLocaleString('en-US')}`));
    const seed = await resnets('summary', 'fresnet18', '--convention', 'mxnet');
    assert.match(seed.stdout, /MXNet print_summary total params: 11,440,704/, "the seed's printed total");
  });

  it('convert: .params -> .safetensors (our names) -> .params (MXNet names) and a plain .pth', async () => {
    const safetensors = path('model.safetensors');
    let result = await resnets('convert', path(`${ID}-0000.params`), '-o', safetensors);
    assert.equal(result.code, 0, result.stderr);
    const ours = io.load(safetensors);
    try {
      assert.ok('stage1.unit1.conv1sc.weight' in ours && 'fc1.running_var' in ours, 'our names');
    } finally {
      torch.dispose(ours);
    }
    result = await resnets('run', 'fresnet', '--model-options', '{"units": [1, 1, 1, 1], "se": true, "embeddingSize": 32, "inputSize": [32, 32]}', '--weights', safetensors, '--input', path(`${ID}-input.npy`), '--output', path('out2.npy'));
    assert.equal(result.code, 0, result.stderr);
    assertOutput(path('out2.npy'), 'a family name with --model-options builds that configuration');

    const back = path('back-0000.params');
    result = await resnets('convert', safetensors, '-o', back, '--model', 'fresnet', '--model-options', '{"units": [1, 1, 1, 1], "se": true, "embeddingSize": 32, "inputSize": [32, 32]}');
    assert.equal(result.code, 0, result.stderr);
    const [original, again] = [io.load(path(`${ID}-0000.params`)), io.load(back)];
    try {
      assert.deepEqual(Object.keys(again).sort(), Object.keys(original).sort(), 'MXNet names again');
      for (const key of Object.keys(original)) assert.ok(torch.tidy(() => again[key].eq(original[key]).all().item()), key);
    } finally {
      torch.dispose(original);
      torch.dispose(again);
    }
    result = await resnets('convert', path(`${ID}-0000.params`), '-o', path('plain.pth'), '--model', 'resnet18');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /has MXNet names \(arg:\/aux:\); to rename them for PyTorch, give --model/);
  });

  it('convert refuses .params output without an MXNet key map, unknown --model, and --to where it cannot apply', async () => {
    const model = models.createModel('resnet18', { numClasses: 4 });
    const pth = path('resnet18.pth');
    try {
      io.save(model.stateDict(), pth);
    } finally {
      model.dispose();
    }
    let result = await resnets('convert', pth, '-o', path('resnet18.params'));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /to write MXNet \.params, give --model/);
    result = await resnets('convert', pth, '-o', path('resnet18.params'), '--model', 'resnet18');
    assert.match(result.stderr, /\.params output needs a model with an MXNet key map/);
    result = await resnets('convert', pth, '-o', path('x.safetensors'), '--model', 'nosuch');
    assert.match(result.stderr, /unknown model 'nosuch'.*see 'resnets list'/);
    result = await resnets('convert', pth, '-o', path('x.safetensors'), '--to', 'resnet18');
    assert.match(result.stderr, /--to resnet18 renames an MXNet ResNeXt's \.params .*has none \(to write an MXNet ResNeXt, give --to mxnet_resnext50_32x4d\)/);
    result = await resnets('convert', path(`${ID}-0000.params`), '-o', path('x.pth'), '--to', 'resnet18');
    assert.match(result.stderr, /--to resnet18 renames an MXNet ResNeXt's weights .*this checkpoint is a fresnet/);
    assert.doesNotMatch(result.stderr, /Cannot redefine/);

    // An MXNet ResNeXt narrower than resnet18: same keys, other shapes.
    const narrow = JSON.stringify({ units: [2, 2, 2, 2], filterList: [16, 16, 32, 64, 128], numClasses: 4 });
    const resnext = models.createModelFromConfigByName({ ...(JSON.parse(narrow) as object), family: 'resnext' });
    try {
      io.save(resnext.stateDict(), path('narrow.safetensors'));
    } finally {
      resnext.dispose();
    }
    result = await resnets('convert', path('narrow.safetensors'), '-o', path('narrow-0000.params'), '--model', 'resnext', '--model-options', narrow);
    assert.equal(result.code, 0, result.stderr);
    result = await resnets('convert', path('narrow-0000.params'), '-o', path('narrow.pth'), '--model', 'resnext', '--model-options', narrow, '--to', 'resnet18');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /the MXNet ResNeXt and the torchvision model differ in \d+ tensor shape\(s\) \(conv1\.weight: MXNet ResNeXt \[16, 3, 7, 7\], torchvision \[64, 3, 7, 7\]/);
  });

  it('--model-options on every family; bad JSON and unknown options are named', async () => {
    let result = await resnets('summary', 'resnet18', '--model-options', '{"numClasses": 7}', '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { layers: { path: string; outputShape: number[] }[] }).layers.at(-1)!.outputShape.at(-1), 7);
    result = await resnets('summary', 'fresnet18', '--model-options', '{"head": "GDC", "embeddingSize": 128}', '--json');
    assert.equal(result.code, 0, result.stderr);
    const gdc = JSON.parse(result.stdout) as { layers: { path: string }[] };
    assert.ok(gdc.layers.some((layer) => layer.path === 'conv_6dw7_7.conv2d'));
    result = await resnets('summary', 'iresnet18', '--model-options', '{"dropout": 0.2}');
    assert.equal(result.code, 0, result.stderr);
    result = await resnets('summary', 'fresnet18', '--model-options', '{unit: 2}');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--model-options.*expected a JSON object/);
    result = await resnets('summary', 'fresnet18', '--model-options', '{"units": 2, "nonsense": 1}');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /fresnet18: unknown option 'nonsense'/);
    result = await resnets('run', 'fresnet', '--weights', path('missing-0000.params'), '--input', path(`${ID}-input.npy`), '--output', path('x.npy'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /missing-symbol\.json, which does not exist|does not exist/);
  });
});
