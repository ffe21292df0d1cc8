// The first seed's MXNet ResNeXt (symbol_resnext.py) against
// scripts/mxnet_resnext_reference.py, its code transcribed to eager PyTorch: the
// reference writes prefix-symbol.json + prefix-0000.params in MXNet's format (random
// weights, bn_data's statistics at pixel scale); we read the configuration from the
// symbol, load the weights through the key map and give the same logits to 1e-4
// relative, for a bottleneck and a basic configuration.
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

const FIXTURES = [
  { id: 'bottleneck', config: { units: [1, 2, 1, 1], filter_list: [64, 256, 512, 1024, 2048], num_group: 32, bottle_neck: true, num_classes: 10 }, input: [2, 3, 64, 64], seed: 1 },
  { id: 'basic', config: { units: [2, 1, 1, 1], filter_list: [64, 64, 128, 256, 512], bottle_neck: false, num_classes: 7 }, input: [2, 3, 64, 64], seed: 2 },
];

const dir = tempDir('resnets-mxnet-resnext-');
after(() => dir.cleanup());
before(() => runPython('mxnet_resnext_reference.py', ['fixtures', dir.path, JSON.stringify(FIXTURES)]));
const prefix = (id: string) => join(dir.path, id);

describe('MXNet ResNeXt (symbol_resnext.py)', () => {
  for (const item of FIXTURES) {
    it(`${item.id}: the configuration from the symbol, the reference's logits and counts`, () => {
      const read = models.mxnetResNeXtConfigFromSymbol(io.loadMxnetSymbol(`${prefix(item.id)}-symbol.json`), item.id);
      const c = item.config;
      assert.deepEqual(read, { units: c.units, filterList: c.filter_list, bottleneck: c.bottle_neck, numClasses: c.num_classes, ...(c.bottle_neck ? { numGroup: c.num_group } : {}) });
      const model = models.loadMxnetResNeXtCheckpoint(`${prefix(item.id)}-0000.params`);
      const [input, expected] = [io.loadNpy(`${prefix(item.id)}-input.npy`), io.loadNpy(`${prefix(item.id)}-output.npy`)];
      try {
        model.eval();
        torch.tidy(() => assert.ok(relativeError(torch.noGrad(() => model.call(input)), expected) < 1e-4));
        const counts = JSON.parse(readFileSync(`${prefix(item.id)}.json`, 'utf8')) as { params: number };
        assert.equal(model.countParameters(), counts.params);
      } finally {
        model.dispose();
        input.dispose();
        expected.dispose();
      }
    });
  }

  it("mxnet_resnext50_32x4d has torchvision's resnext50_32x4d count plus bn_data's 6", () => {
    const count = (name: string) => {
      const model = torch.withDefaultDevice('meta', () => models.createModelByName(name, { init: false }));
      try {
        return model.countParameters();
      } finally {
        model.dispose();
      }
    };
    assert.equal(count('mxnet_resnext50_32x4d'), count('resnext50_32x4d') + 6);
    assert.equal(count('resnext50_32x4d'), 25028904);
  });

  it("renames for torchvision's layout where the architectures coincide, and says what it cannot carry over", () => {
    const onMeta = (name: string) => torch.withDefaultDevice('meta', () => models.createModelByName(name, { init: false }));
    const pairs: [string, string, RegExp[]][] = [
      ['mxnet_resnext50_32x4d', 'resnext50_32x4d', [/^bn_data\./]],
      ['mxnet_resnext34', 'resnet34', [/^bn_data\./, /^stage1\.unit1\.sc(_bn)?\./]],
    ];
    for (const [mxnet, torchvision, expectedLeft] of pairs) {
      const [source, target] = [onMeta(mxnet), onMeta(torchvision)];
      try {
        const { dict, left } = models.toTorchvisionLayout(source.stateDict(), target.stateDict());
        const targetDict = target.stateDict();
        assert.deepEqual(Object.keys(dict).sort(), Object.keys(targetDict).sort(), `${mxnet} -> ${torchvision}: every key`);
        for (const [key, tensor] of Object.entries(dict)) assert.deepEqual(tensor.shape, targetDict[key].shape, key);
        assert.ok(left.length > 0 && left.every((key) => expectedLeft.some((pattern) => pattern.test(key))), `${mxnet}: left ${left.join(', ')}`);
      } finally {
        source.dispose();
        target.dispose();
      }
    }
    assert.throws(() => {
      const [source, target] = [onMeta('mxnet_resnext34'), onMeta('resnet50')];
      try {
        models.toTorchvisionLayout(source.stateDict(), target.stateDict());
      } finally {
        source.dispose();
        target.dispose();
      }
    }, /the architectures differ/);
  });

  it("in torchvision's layout (eps compensated), fed bn_data's normalisation, the reference's logits", () => {
    const tvConfigs: Record<string, object> = {
      bottleneck: { block: 'bottleneck', depths: [1, 2, 1, 1], groups: 32, widthPerGroup: 4, numClasses: 10 },
      basic: { block: 'basic', depths: [2, 1, 1, 1], numClasses: 7 },
    };
    for (const item of FIXTURES) {
      const source = models.loadMxnetResNeXtCheckpoint(`${prefix(item.id)}-0000.params`);
      const target = models.createModelFromConfigByName({ family: 'resnet', ...tvConfigs[item.id] }, { init: false });
      const [input, expected] = [io.loadNpy(`${prefix(item.id)}-input.npy`), io.loadNpy(`${prefix(item.id)}-output.npy`)];
      const [ours, shapes] = [source.stateDict(), target.stateDict()];
      try {
        const { dict, notes } = models.mxnetResNeXtToTorchvision(ours, shapes);
        assert.ok(notes.some((note) => /every running_var was raised by the difference/.test(note)), notes.join('\n'));
        const norm = /bn_data normalised the input as \(x - mean\) \/ std with mean \[([^\]]+)\], std \[([^\]]+)\]/.exec(notes.join('\n'));
        assert.ok(norm, notes.join('\n'));
        if (item.id === 'basic') assert.ok(notes.some((note) => /not carried over: .*stage1\.unit1\.sc\.weight/.test(note)), notes.join('\n'));
        models.loadCheckpoint(target, dict);
        torch.dispose(Object.values(dict));
        if (item.id === 'basic') continue; // without its stage-1 projection it is another function
        source.eval();
        target.eval();
        torch.tidy(() => {
          // torchvision's model fed the input normalised as the note says gives the MXNet net's logits.
          const [mean, std] = [norm[1], norm[2]].map((list) => torch.tensor(list.split(', ').map(Number)).reshape([1, 3, 1, 1]));
          const output = torch.noGrad(() => target.call(input.sub(mean).div(std)));
          assert.ok(relativeError(output, expected) < 1e-4, `relative error ${relativeError(output, expected)}`);
        });
      } finally {
        torch.dispose([...Object.values(ours), ...Object.values(shapes)]);
        source.dispose();
        target.dispose();
        input.dispose();
        expected.dispose();
      }
    }
  });

  it('resnets summary and convert configure the net from prefix-symbol.json too', async () => {
    const counts = JSON.parse(readFileSync(`${prefix('bottleneck')}.json`, 'utf8')) as { params: number };
    let result = await resnets('summary', 'resnext', '--weights', `${prefix('bottleneck')}-0000.params`, '--input', '1x3x64x64', '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { totalParams: number }).totalParams, counts.params);
    const converted = join(dir.path, 'bottleneck.safetensors');
    result = await resnets('convert', `${prefix('bottleneck')}-0000.params`, '-o', converted);
    assert.equal(result.code, 0, result.stderr);
    const config = models.mxnetResNeXtConfigFromSymbol(io.loadMxnetSymbol(`${prefix('bottleneck')}-symbol.json`), 'bottleneck');
    const model = new models.MxnetResNeXt(config, { init: false });
    const [weights, input, expected] = [io.load(converted), io.loadNpy(`${prefix('bottleneck')}-input.npy`), io.loadNpy(`${prefix('bottleneck')}-output.npy`)];
    try {
      models.loadCheckpoint(model, weights);
      model.eval();
      torch.tidy(() => assert.ok(relativeError(torch.noGrad(() => model.call(input)), expected) < 1e-4));
    } finally {
      torch.dispose([...Object.values(weights), input, expected]);
      model.dispose();
    }
  });

  it('resnets run resnext --weights prefix-0000.params needs nothing else', async () => {
    const out = join(dir.path, 'out.npy');
    const result = await resnets('run', 'resnext', '--weights', `${prefix('basic')}-0000.params`, '--input', `${prefix('basic')}-input.npy`, '--output', out);
    assert.equal(result.code, 0, result.stderr);
    const [output, expected] = [io.loadNpy(out), io.loadNpy(`${prefix('basic')}-output.npy`)];
    try {
      assert.ok(relativeError(output, expected) < 1e-4);
    } finally {
      output.dispose();
      expected.dispose();
    }
  });
});
