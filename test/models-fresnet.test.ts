// fresnet against scripts/fresnet_reference.py, InsightFace's fresnet.py and get_fc1
// written out in PyTorch: for every unit version, input version, head, activation and
// SE, at small depths with random weights and BatchNorm statistics, the reference writes
// an MXNet checkpoint (prefix-symbol.json + prefix-0000.params, in MXNet's own layout);
// we read the configuration from the symbol, load the weights through the key map, and
// the eval outputs agree to 1e-4 relative. Parameter counts (true, and as
// mx.viz.print_summary prints them) equal the reference's; our own .params files
// round-trip.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import * as models from '../src/models/index.js';
import * as torch from '../src/torch/index.js';
import { summarize } from '../src/tools/summary.js';
import { relativeError } from './helpers/models-reference.js';
import { runPython, tempDir } from './helpers/python.js';

interface ReferenceConfig {
  units: number[];
  version_unit?: 1 | 2 | 3 | '3_x';
  version_input?: 0 | 1 | 2;
  version_act?: 'relu' | 'prelu';
  version_se?: 0 | 1;
  version_output?: models.HeadKind;
  emb_size?: number;
  bottle_neck?: boolean;
}

interface Fixture {
  id: string;
  /** Also write our own .params and load it into a fresh model (a few fixtures: the files are large). */
  roundTrip?: boolean;
  config: ReferenceConfig;
  input: number[];
  seed: number;
}

const small = (input: 0 | 1 | 2) => (input === 0 ? [2, 3, 64, 64] : [2, 3, 32, 32]);
const fixture = (id: string, config: ReferenceConfig, input = small(config.version_input ?? 1), roundTrip = false): Fixture => ({ id, config, input, seed: 1, roundTrip });

const FIXTURES: Fixture[] = [
  // Unit versions, as the dispatcher picks them; two units per stage 1 cover dim-matched units.
  fixture('v3-in1-prelu-E', { units: [2, 1, 1, 1], version_unit: 3, version_input: 1, version_act: 'prelu', version_output: 'E', emb_size: 64 }, undefined, true),
  fixture('v1-in0-relu-E', { units: [2, 1, 1, 1], version_unit: 1, version_input: 0, version_act: 'relu', version_output: 'E', emb_size: 32 }),
  fixture('v1L-in1-prelu-se-FC', { units: [1, 2, 1, 1], version_unit: 1, version_input: 1, version_se: 1, version_output: 'FC', emb_size: 48 }),
  fixture('v2-in2-prelu-GAP', { units: [2, 1, 1, 1], version_unit: 2, version_input: 2, version_output: 'GAP', emb_size: 64 }, undefined, true),
  fixture('v2-in1-relu-se-J', { units: [1, 1, 1, 2], version_unit: 2, version_act: 'relu', version_se: 1, version_output: 'J', emb_size: 16 }),
  fixture('v3-in0-relu-se-Z', { units: [1, 1, 1, 1], version_unit: 3, version_input: 0, version_act: 'relu', version_se: 1, version_output: 'Z' }),
  // The remaining heads.
  fixture('v3-GNAP-narrow', { units: [1, 1, 1, 1], version_output: 'GNAP', emb_size: 128 }),
  fixture('v3-GNAP-512', { units: [1, 1, 1, 1], version_act: 'relu', version_output: 'GNAP', emb_size: 512 }),
  fixture('v3-GNAP-wide', { units: [1, 1, 1, 1], version_output: 'GNAP', emb_size: 640 }),
  fixture('v3-GDC', { units: [1, 1, 1, 1], version_output: 'GDC', emb_size: 128 }, [1, 3, 112, 112]),
  fixture('v3-F', { units: [1, 1, 1, 1], version_output: 'F', emb_size: 24 }),
  fixture('v3-G', { units: [1, 1, 1, 1], version_act: 'relu', version_output: 'G', emb_size: 24 }),
  fixture('v3-H', { units: [1, 1, 1, 1], version_output: 'H', emb_size: 24 }),
  // Bottleneck units (widths 256..2048) and the convd / bnd / relud tail.
  fixture('bottleneck-v1-in0', { units: [1, 1, 1, 1], version_unit: 1, version_input: 0, bottle_neck: true, version_output: 'E', emb_size: 32 }, [1, 3, 64, 64]),
  fixture('bottleneck-v1L-se', { units: [1, 1, 1, 1], version_unit: 1, version_se: 1, bottle_neck: true, version_output: 'E', emb_size: 32 }, [1, 3, 32, 32]),
  fixture('bottleneck-v2', { units: [1, 1, 1, 1], version_unit: 2, version_act: 'relu', bottle_neck: true, version_output: 'E', emb_size: 32 }, [1, 3, 32, 32]),
  fixture('bottleneck-v3x-se', { units: [1, 1, 1, 1], version_unit: '3_x', version_se: 1, bottle_neck: true, version_output: 'E', emb_size: 32 }, [1, 3, 32, 32], true),
];

/** Our config for a reference config, as the symbol should tell it. */
function expectedConfig(config: ReferenceConfig, input: number[]): models.FResNetConfig {
  const head = config.version_output ?? 'E';
  const expected: models.FResNetConfig = {
    units: config.units,
    unit: config.version_unit ?? 3,
    input: config.version_input ?? 1,
    act: config.version_act ?? 'prelu',
    se: config.version_se === 1,
    head,
    bottleneck: config.bottle_neck ?? false,
  };
  if (head !== 'Z') expected.embeddingSize = config.emb_size ?? 512;
  // Heads with a FullyConnected on the feature map fix the input size through its weight.
  if (!['Z', 'GAP', 'GNAP'].includes(head)) expected.inputSize = [input[2], input[3]];
  return expected;
}

const dir = tempDir('resnets-fresnet-');
after(() => dir.cleanup());
before(() => runPython('fresnet_reference.py', ['fixtures', dir.path, JSON.stringify(FIXTURES)]));

const prefix = (id: string) => join(dir.path, id);

describe('fresnet equals the PyTorch transcription of fresnet.py + get_fc1', () => {
  for (const item of FIXTURES) {
    it(item.id, () => {
      const { model, ignored } = models.loadMxnetCheckpoint(`${prefix(item.id)}-0000.params`);
      const input = io.loadNpy(`${prefix(item.id)}-input.npy`);
      const expected = io.loadNpy(`${prefix(item.id)}-output.npy`);
      const counts = JSON.parse(readFileSync(`${prefix(item.id)}.json`, 'utf8')) as { params: number; mxnet_summary: number };
      try {
        assert.deepEqual(ignored, []);
        const { depth: _depth, ...read } = models.fresnetConfigFromSymbol(io.loadMxnetSymbol(`${prefix(item.id)}-symbol.json`), item.id);
        const { inputSize, ...readWithoutSize } = read;
        const { inputSize: expectedSize, ...expectedWithoutSize } = expectedConfig(item.config, item.input);
        assert.deepEqual(readWithoutSize, expectedWithoutSize, 'the configuration read from the symbol');
        assert.equal(inputSize, undefined, 'no input size without the weights');
        assert.deepEqual(model.config.inputSize, expectedSize ?? [112, 112], 'input size read from the weights');
        model.eval();
        torch.tidy(() => {
          const output = torch.noGrad(() => model.call(input));
          assert.ok(relativeError(output, expected.flatten(1)) < 1e-4, `eval output, relative error ${relativeError(output, expected.flatten(1))}`);
        });
        assert.equal(model.countParameters(), counts.params, 'parameters (the arg: entries of the checkpoint)');
        const summary = summarize(model, [1, ...item.input.slice(1)]);
        assert.equal(summary.mxnetParams, counts.mxnet_summary, "mx.viz.print_summary's total");

        if (!item.roundTrip) return;
        // Our .params and the key map back: a fresh model of the same config gives the same output.
        const written = join(dir.path, `${item.id}-ours-0000.params`);
        io.save(models.toMxnetParams(model), written);
        const params = io.load(written);
        const copy = new models.FResNet(model.config, { init: false });
        try {
          models.loadMxnetParamsInto(copy, params, written);
          copy.eval();
          torch.tidy(() => assert.ok(relativeError(torch.noGrad(() => copy.call(input)), expected.flatten(1)) < 1e-4, 'after our .params round trip'));
        } finally {
          copy.dispose();
          torch.dispose(params);
        }
      } finally {
        model.dispose();
        input.dispose();
        expected.dispose();
      }
    });
  }
});

describe('fresnet names and counts', () => {
  it("fresnet18 counts as the seed's mx.viz.print_summary prints it, and its true count is the reference's", () => {
    const [reference] = JSON.parse(runPython('fresnet_reference.py', ['counts', JSON.stringify([{ config: { num_layers: 18 }, input: [1, 3, 112, 112] }])])) as {
      params: number;
      mxnet_summary: number;
    }[];
    const model = models.createEmbeddingModelByName('fresnet18', { init: false });
    try {
      const summary = summarize(model, [1, 3, 112, 112]);
      assert.equal(summary.mxnetParams, reference.mxnet_summary);
      // The total printed under the seed's code: "Total params: 11440704".
      assert.equal(summary.mxnetParams, 11440704);
      assert.equal(summary.totalParams, reference.params);
      assert.equal(summary.totalParams - summary.trainableParams, 512, "fc1's fixed gamma is stored but not trained");
    } finally {
      model.dispose();
    }
  });

  it('maps MXNet names both ways', () => {
    const model = new models.FResNet({ units: [1, 1, 1, 1], unit: 3, se: true, embeddingSize: 8, inputSize: [32, 32] }, { init: false });
    try {
      const names = new Map(models.mxnetNames(model).map(({ key, mxnet }) => [key, mxnet]));
      assert.equal(names.get('conv0.weight'), 'arg:conv0_weight');
      assert.equal(names.get('bn0.running_var'), 'aux:bn0_moving_var');
      assert.equal(names.get('relu0.weight'), 'arg:relu0_gamma');
      assert.equal(names.get('stage1.unit1.conv1sc.weight'), 'arg:stage1_unit1_conv1sc_weight');
      assert.equal(names.get('stage1.unit1.sc.weight'), 'arg:stage1_unit1_sc_gamma');
      assert.equal(names.get('stage2.unit1.se.fc1.bias'), 'arg:stage2_unit1_se_conv1_bias');
      assert.equal(names.get('stage2.unit1.se.act.weight'), 'arg:stage2_unit1_se_relu1_gamma');
      assert.equal(names.get('pre_fc1.weight'), 'arg:pre_fc1_weight');
      assert.equal(names.get('fc1.weight'), 'arg:fc1_gamma');
      assert.equal(names.get('fc1.running_mean'), 'aux:fc1_moving_mean');
      assert.ok(!names.has('bn0.num_batches_tracked'), 'PyTorch batch counters have no MXNet name');
    } finally {
      model.dispose();
    }
  });

  it('registers InsightFace defaults under fresnet<depth>', () => {
    assert.deepEqual(
      models.listModels('fresnet*'),
      ['fresnet18', 'fresnet34', 'fresnet49', 'fresnet50', 'fresnet74', 'fresnet90', 'fresnet98', 'fresnet99', 'fresnet100', 'fresnet101', 'fresnet124', 'fresnet134', 'fresnet136', 'fresnet140', 'fresnet152', 'fresnet160', 'fresnet200', 'fresnet269'],
    );
    const model = torch.withDefaultDevice('meta', () => models.createEmbeddingModelByName('fresnet100', { init: false })) as models.FResNet;
    try {
      assert.deepEqual(
        { units: model.config.units, unit: model.config.unit, input: model.config.input, act: model.config.act, se: model.config.se, head: model.config.head },
        { units: [3, 13, 30, 3], unit: 3, input: 1, act: 'prelu', se: false, head: 'E' },
      );
      assert.equal(model.embeddingSize, 512);
      assert.deepEqual(model.preprocessing, { inputSize: [3, 112, 112], channels: 'RGB', normalize: null });
    } finally {
      model.dispose();
    }
    assert.throws(() => models.createClassifierByName('fresnet50'), /fresnet50 is an embedding model/);
    // get_symbol in InsightFace's recognition/symbol/fresnet.py: 90 and 99 differ in stage 3.
    assert.deepEqual(models.fresnetDepths[90], [3, 8, 30, 3]);
    assert.deepEqual(models.fresnetDepths[99], [3, 8, 35, 3]);
  });

  it('names the option and what it accepts on bad options', () => {
    const build = (options: models.ModelOptions) => () => models.createEmbeddingModelByName('fresnet18', { init: false, ...options }).dispose();
    assert.throws(build({ unit: 4 }), /unit 4 calls residual_unit_v4, which InsightFace's MXNet fresnet.py does not define/);
    assert.throws(build({ unit: 5 }), /unit must be one of 1, 2, 3, '3_x', got 5/);
    assert.throws(build({ unit: '3_x' }), /'3_x' \(residual_unit_v3_x\) needs bottleneck units/);
    assert.throws(build({ input: 3 }), /input must be 0, 1 or 2, got 3/);
    assert.throws(build({ head: 'K' }), /head must be one of 'Z', 'E', 'FC', 'GAP', 'GNAP', 'GDC', 'F', 'G', 'H', 'I', 'J', got "K"/);
    assert.throws(build({ act: 'tanh' }), /act must be one of 'relu', 'prelu'/);
    assert.throws(build({ head: 'GDC', inputSize: [32, 32] }), /head 'GDC' needs a feature map of at least 7x7.*got 2x2/);
    assert.throws(build({ numClass: 3 }), /unknown option 'numClass'/);
    assert.throws(() => models.createModelFromConfigByName({ family: 'fresnet', depth: 19 }), /no experiments done on depth 19/);
  });
});
