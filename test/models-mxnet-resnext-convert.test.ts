// torchvision's layout into the MXNet ResNeXt (symbol_resnext.py): scripts/resnet_reference.py
// builds torchvision ResNets (a 32x4d bottleneck ResNeXt and a basic net, one or two units
// a stage) with random weights and randomised BatchNorm statistics and gives their outputs;
// converted, our MXNet ResNeXt gives the same output to 1e-4, and so does
// scripts/mxnet_resnext_reference.py evaluating the written prefix-symbol.json +
// prefix-0000.params node by node. Architectures that do not coincide are refused.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import * as models from '../src/models/index.js';
import * as torch from '../src/torch/index.js';
import { resnets } from './helpers/cli.js';
import { relativeError } from './helpers/models-reference.js';
import { runPython, tempDir } from './helpers/python.js';

const FIXTURES = [
  { name: 'tv_resnext', format: 'pth', input: [2, 3, 64, 64], seed: 3, architecture: { block: 'Bottleneck', layers: [1, 1, 1, 1], groups: 32, width_per_group: 4, num_classes: 10 } },
  { name: 'tv_basic', format: 'safetensors', input: [2, 3, 64, 64], seed: 4, architecture: { block: 'BasicBlock', layers: [2, 1, 1, 1], num_classes: 7 } },
];
const RESNEXT = { family: 'resnext' as const, units: [1, 1, 1, 1], filterList: [64, 256, 512, 1024, 2048], numGroup: 32, bottleneck: true, numClasses: 10 };
const BASIC = { family: 'resnext' as const, units: [2, 1, 1, 1], filterList: [64, 64, 128, 256, 512], bottleneck: false, numClasses: 7 };

const dir = tempDir('resnets-mxnet-resnext-convert-');
const path = (name: string) => join(dir.path, name);
after(() => dir.cleanup());
before(() => {
  runPython('resnet_reference.py', ['fixtures', dir.path, JSON.stringify(FIXTURES)]);
  for (const { name } of FIXTURES) {
    const io_ = io.loadSafetensors(path(`${name}-io.safetensors`));
    io.saveNpy(io_.input, path(`${name}-input.npy`));
    io.saveNpy(io_.output, path(`${name}-output.npy`));
    torch.dispose(Object.values(io_));
  }
});

/** The largest output difference relative to the largest reference output. */
function errorAgainst(output: torch.Tensor | string, name: string): number {
  const [actual, expected] = [typeof output === 'string' ? io.loadNpy(output) : output, io.loadNpy(path(`${name}-output.npy`))];
  try {
    return relativeError(actual, expected);
  } finally {
    if (typeof output === 'string') actual.dispose();
    expected.dispose();
  }
}

/** The converted model's output on the fixture's input; `pixels` feeds 0..255 pixels that ImageNet's normalisation turns into that input. */
function convertedOutputError(name: string, config: models.MxnetResNeXtConfig, options: models.FromTorchvisionOptions = {}, pixels = false): { error: number; notes: string[] } {
  const model = new models.MxnetResNeXt(config, { init: false });
  const dict = io.load(path(`${name}.${name === 'tv_resnext' ? 'pth' : 'safetensors'}`));
  try {
    const { notes } = models.loadTorchvisionIntoMxnetResNeXt(model, dict, options);
    model.eval();
    const error = torch.tidy(() => {
      let input = io.loadNpy(path(`${name}-input.npy`));
      if (pixels) input = input.mul(torch.tensor([0.229, 0.224, 0.225]).reshape([1, 3, 1, 1])).add(torch.tensor([0.485, 0.456, 0.406]).reshape([1, 3, 1, 1])).mul(255);
      return errorAgainst(torch.noGrad(() => model.call(input)), name);
    });
    return { error, notes };
  } finally {
    model.dispose();
    torch.dispose(Object.values(dict));
  }
}

describe("torchvision's layout into the MXNet ResNeXt", () => {
  it("a bottleneck 32x4d ResNeXt gives torchvision's output; bn_data is the identity and the eps difference is compensated", (t) => {
    const { error, notes } = convertedOutputError('tv_resnext', RESNEXT);
    assert.ok(error < 1e-4, `relative error ${error}`);
    assert.ok(notes.some((note) => /bn_data .* identity: beta 0, moving_mean 0, moving_var 1 - 2e-05/.test(note)), notes.join('\n'));
    assert.ok(notes.some((note) => /eps: 2e-05 in MXNet, 1e-05 in the checkpoint; every running_var was lowered/.test(note)), notes.join('\n'));
    // What the eps difference alone costs when the variances are copied as they are.
    const uncompensated = convertedOutputError('tv_resnext', RESNEXT, { compensateEps: false });
    t.diagnostic(`max relative output difference: ${error.toExponential(2)} compensated, ${uncompensated.error.toExponential(2)} with the variances copied`);
    assert.ok(uncompensated.error > error, `${uncompensated.error} vs ${error}`);
    assert.ok(uncompensated.notes.some((note) => /copied as they are/.test(note)));
  });

  it("and back to torchvision's layout: the checkpoint's own tensors (a DataParallel checkpoint too)", () => {
    const model = new models.MxnetResNeXt(RESNEXT, { init: false });
    const dict = io.load(path('tv_resnext.pth'));
    const own = model.stateDict();
    try {
      // Saved from nn.DataParallel: 'module.' before every key.
      models.loadTorchvisionIntoMxnetResNeXt(model, Object.fromEntries(Object.entries(dict).map(([key, tensor]) => [`module.${key}`, tensor])));
      const back = models.mxnetResNeXtToTorchvision(own, dict);
      try {
        assert.deepEqual(Object.keys(back.dict).sort(), Object.keys(dict).sort());
        for (const [key, tensor] of Object.entries(dict)) {
          if (key.endsWith('num_batches_tracked')) continue;
          const error = torch.tidy(() => back.dict[key].sub(tensor).abs().max().item() / Math.max(1e-12, tensor.abs().max().item()));
          assert.ok(error < 1e-6, `${key}: ${error}`);
        }
        assert.ok(back.notes.some((note) => /bn_data was the identity/.test(note)), back.notes.join('\n'));
      } finally {
        torch.dispose(Object.values(back.dict));
      }
    } finally {
      torch.dispose([...Object.values(own), ...Object.values(dict)]);
      model.dispose();
    }
  });

  it("a basic net's missing stage-1 projection is filled in as the identity", () => {
    const { error, notes } = convertedOutputError('tv_basic', BASIC);
    assert.ok(error < 1e-4, `relative error ${error}`);
    assert.ok(notes.some((note) => /^stage1\.unit1: the projection \(sc, sc_bn\) .* identity/.test(note)), notes.join('\n'));
  });

  it('bn_data can apply the input normalisation, so the net takes 0..255 pixels', () => {
    const normalization = { mean: [0.485, 0.456, 0.406].map((m) => m * 255), std: [0.229, 0.224, 0.225].map((s) => s * 255) };
    const { error } = convertedOutputError('tv_basic', BASIC, { inputNormalization: normalization }, true);
    assert.ok(error < 1e-4, `relative error ${error}`);
    assert.throws(() => convertedOutputError('tv_basic', BASIC, { inputNormalization: { mean: [0, 0, 0], std: [1, 0, 1] } }), /std 0 is not above sqrt\(eps\)/);
  });

  it('refuses architectures that do not coincide, naming what differs', () => {
    assert.throws(() => convertedOutputError('tv_resnext', { ...RESNEXT, numGroup: 16 }), /layer1\.0\.conv2\.weight: MXNet ResNeXt \[128, 8, 3, 3\], torchvision \[128, 4, 3, 3\].*the architectures differ/);
    assert.throws(() => convertedOutputError('tv_resnext', { ...RESNEXT, units: [1, 1, 2, 1] }), /has nothing for .*stage3\.unit2\.conv1\.weight/);
    assert.throws(() => convertedOutputError('tv_basic', RESNEXT), /the architectures differ/);
  });

  it('resnets convert --to writes prefix-symbol.json + prefix-0000.params that run and the reference load', async () => {
    const prefix = path('converted');
    let result = await resnets('convert', path('tv_resnext.pth'), '--to', 'resnext', '--model-options', JSON.stringify({ ...RESNEXT, family: undefined, numClasses: undefined }), '-o', prefix);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*converted-symbol\.json and .*converted-0000\.params/);
    assert.match(result.stdout, /note: bn_data .* identity/);
    assert.match(result.stdout, /note: BatchNorm eps: 2e-05 in MXNet, 1e-05 in the checkpoint/);
    assert.match(result.stdout, /note: resnets predict feeds the resnext family 0\.\.255 pixels.*--raw-pixels/);
    result = await resnets('run', 'resnext', '--weights', `${prefix}-0000.params`, '--input', path('tv_resnext-input.npy'), '--output', path('ours.npy'));
    assert.equal(result.code, 0, result.stderr);
    assert.ok(errorAgainst(path('ours.npy'), 'tv_resnext') < 1e-4);
    runPython('mxnet_resnext_reference.py', ['run', prefix, path('tv_resnext-input.npy'), path('reference.npy')]);
    assert.ok(errorAgainst(path('reference.npy'), 'tv_resnext') < 1e-4);

    // Raw pixels: the symbol and weights as MXNet's model zoo nets take their input.
    result = await resnets('convert', path('tv_basic.safetensors'), '--to', 'resnext', '--model-options', JSON.stringify({ ...BASIC, family: undefined }), '--raw-pixels', '-o', path('basic-0000.params'));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /note: stage1\.unit1: the projection/);
    assert.match(result.stdout, /note: bn_data .* input normalisation/);
    assert.ok(existsSync(path('basic-symbol.json')));
  });

  it('resnets convert --to refuses what it cannot do', async () => {
    let result = await resnets('convert', path('tv_resnext.pth'), '--to', 'mxnet_resnext50_32x4d', '-o', path('x'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /tv_resnext\.pth has nothing for mxnet_resnext50_32x4d .*'s stage1\.unit2\.conv1\.weight, .* and \d+ more, which cannot be filled in as an identity: the architectures differ/);
    result = await resnets('convert', path('tv_resnext.pth'), '--to', 'mxnet_resnext50_32x4d', '-o', path('x.pth'));
    assert.match(result.stderr, /-o .*x\.pth: --to mxnet_resnext50_32x4d writes MXNet's prefix-symbol\.json \+ prefix-0000\.params/);
    result = await resnets('convert', path('tv_resnext.pth'), '--to', 'resnext50_32x4d', '--raw-pixels', '-o', path('x.pth'));
    assert.match(result.stderr, /--raw-pixels fills in the input BatchNorm of an MXNet ResNeXt/);
    result = await resnets('convert', path('tv_resnext.pth'), '--to', 'mxnet_resnext50_32x4d', '--model', 'resnext50_32x4d', '-o', path('x'));
    assert.match(result.stderr, /--model resnext50_32x4d: not used with --to mxnet_resnext50_32x4d/);
    result = await resnets('convert', path('converted-0000.params'), '--to', 'mxnet_resnext50_32x4d', '-o', path('x'));
    assert.match(result.stderr, /fills an MXNet ResNeXt from a torchvision-layout checkpoint; .* has MXNet names/);
    assert.ok(!existsSync(path('x-0000.params')) && !existsSync(path('x-symbol.json')));
  });
});
