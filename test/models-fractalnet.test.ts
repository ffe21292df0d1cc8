// FractalNet: parameter counts and layout against a PyTorch reference written from the
// paper, the mean join checked by hand, drop-path (local keeps one input of every join,
// global keeps one column, seeded paths repeat), training lowers the loss and a resumed
// run with drop-path on ends where an uninterrupted one does.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io, torch } from '../src/index.js';
import * as models from '../src/models/index.js';
import { RunDirectory, SGD, constantSchedule, train, type Batch, type BatchSource } from '../src/train/index.js';
import { assertSameStructure, relativeError, type Structure } from './helpers/models-reference.js';
import { runPython, tempDir } from './helpers/python.js';

const tiny: models.FractalNetConfig = { name: 'tiny', columns: 3, blocks: 2, channels: [4, 6], dropRates: [0, 0.1], inChans: 1, numClasses: 3 };
const referenceSpec = (config: models.FractalNetConfig) => ({
  columns: config.columns,
  blocks: config.blocks,
  channels: config.channels,
  in_chans: config.inChans ?? 3,
  num_classes: config.numClasses ?? 10,
});

const dir = tempDir('resnets-fractalnet-');
after(() => dir.cleanup());
let structures: Structure[];
const registered = ['fractalnet_cifar', 'fractalnet_fmnist'];
before(() => {
  const specs = registered.map((name) => referenceSpec({ ...models.fractalNetFamily.variants[name as 'fractalnet_cifar'].config, name } as models.FractalNetConfig));
  structures = JSON.parse(runPython('fractalnet_reference.py', ['structure', JSON.stringify(specs)])) as Structure[];
  runPython('fractalnet_reference.py', ['fixtures', dir.path, JSON.stringify([{ ...referenceSpec(tiny), id: 'tiny', input: [2, 1, 12, 12], seed: 3 }])]);
});

describe('FractalNet structure', () => {
  it('registered configurations: keys, shapes and parameter counts equal the reference', () => {
    registered.forEach((name, i) => {
      const model = torch.withDefaultDevice('meta', () => models.createModelByName(name, { init: false }));
      assertSameStructure(model.stateDict(), structures[i], name);
      assert.equal(model.countParameters(), structures[i].params, name);
    });
    // The layout the paper describes, counted by hand: 33,698,880 convolution weights
    // (3x3, no bias), 20,608 BatchNorm weights and biases, 5,130 in the classifier.
    assert.equal(structures[0].params, 33_724_618);
  });

  it('eval output equals the reference (all columns joined)', () => {
    const model = new models.FractalNet(tiny, { init: false });
    const weights = io.load(join(dir.path, 'tiny.safetensors')) as io.StateDict;
    const data = io.load(join(dir.path, 'tiny-io.safetensors')) as io.StateDict;
    try {
      model.loadStateDict(weights);
      const error = torch.tidy(() => relativeError(torch.noGrad(() => model.eval().call(data.input)), data.output));
      assert.ok(error < 1e-4, `relative error ${error}`);
    } finally {
      torch.dispose([weights, data]);
      model.dispose();
    }
  });

  it('C=2, B=1 by hand: join(conv(conv(x)), conv(x)) is their mean; evalColumn runs one column', () => {
    torch.manualSeed(2);
    const config: models.FractalNetConfig = { columns: 2, blocks: 1, channels: [3], dropRates: [0], inChans: 2, numClasses: 0 };
    const model = new models.FractalNet(config).eval();
    const block = model.blocks[0];
    const x = torch.randn([1, 2, 6, 6]);
    torch.tidy(() =>
      torch.noGrad(() => {
        const deep = block.deep2!.shallow.call(block.deep1!.shallow.call(x));
        const shallow = block.shallow.call(x);
        const pooled = (t: torch.Tensor) => torch.adaptiveAvgPool2d(torch.maxPool2d(t, 2, { stride: 2 }), 1).flatten(1);
        const byHand = pooled(deep.add(shallow).div(2));
        assert.ok(relativeError(model.call(x), byHand) < 1e-6, 'all columns: the mean');
        const single = new models.FractalNet({ ...config, evalColumn: 1 }, { init: false });
        single.loadStateDict(model.stateDict());
        assert.ok(relativeError(single.eval().call(x), pooled(shallow)) < 1e-6, 'evalColumn 1: the shallow column alone');
        const deepest = new models.FractalNet({ ...config, evalColumn: 2 }, { init: false });
        deepest.loadStateDict(model.stateDict());
        assert.ok(relativeError(deepest.eval().call(x), pooled(deep)) < 1e-6, 'evalColumn 2: the deep column alone');
        single.dispose();
        deepest.dispose();
      }),
    );
    x.dispose();
    model.dispose();
  });
});

/** The convolution units a forward pass runs, by module path. */
function unitsRun(model: models.FractalNet, input: torch.Tensor): string[] {
  const called: string[] = [];
  const removers = [...model.namedModules()]
    .filter(([, module]) => module instanceof models.ConvUnit)
    .map(([path, module]) => module.registerForwardHook(() => called.push(path)));
  torch.tidy(() => torch.noGrad(() => model.call(input)));
  removers.forEach((remove) => remove());
  return called;
}

describe('cross-family options', () => {
  it('featuresOnly gives each block output; numClasses 0 and globalPool; dropPathRate is refused with a pointer', () => {
    const backbone = models.createModel('fractalnet_fmnist', { featuresOnly: true });
    const shapes = torch.tidy(() => torch.noGrad(() => backbone.eval().call(torch.randn([1, 1, 28, 28])).map((t) => t.shape)));
    assert.deepEqual(shapes, [[1, 32, 14, 14], [1, 64, 7, 7], [1, 128, 3, 3], [1, 256, 1, 1]]);
    backbone.dispose();
    const pooled = new models.FractalNet({ ...tiny, numClasses: 0, globalPool: 'avgmax' });
    assert.deepEqual(torch.tidy(() => torch.noGrad(() => pooled.eval().call(torch.randn([2, 1, 12, 12])).shape)), [2, 6]);
    pooled.dispose();
    assert.throws(() => new models.FractalNet({ ...tiny, dropPathRate: 0.1 }), /drop-path is set by localDropProb and globalPathRatio/);
    assert.throws(() => new models.FractalNet({ ...tiny, evalColumn: 4 }), /evalColumn must be null or an integer from 1 to 3/);
  });
});

describe('input channels', () => {
  it('a 3-channel checkpoint loads into inChans 1: every column\'s first convolution is summed over its channels', () => {
    torch.manualSeed(11);
    const rgb = new models.FractalNet({ ...tiny, inChans: 3 }).eval();
    const grey = new models.FractalNet(tiny, { init: false }).eval();
    const backbone = models.FeatureListNet.fromModel(new models.FractalNet({ ...tiny, numClasses: 0 }, { init: false }));
    const weights = rgb.stateDict();
    try {
      assert.deepEqual(grey.pretrainedConfig.firstConv, ['block1.shallow.conv', 'block1.deep1.shallow.conv', 'block1.deep1.deep1.shallow.conv']);
      models.loadCheckpoint(grey, weights);
      models.loadCheckpoint(backbone, weights);
      const x = torch.randn([2, 1, 12, 12]);
      // A grey image gives what the RGB model gives on it repeated in every channel.
      const error = torch.tidy(() => torch.noGrad(() => relativeError(grey.call(x), rgb.call(torch.cat([x, x, x], 1)))));
      assert.ok(error < 1e-5, `relative error ${error}`);
      const features = torch.tidy(() => torch.noGrad(() => relativeError(backbone.eval().call(x).at(-1)!, rgb.forwardFeatures(torch.cat([x, x, x], 1)))));
      assert.ok(features < 1e-5, `features: relative error ${features}`);
      x.dispose();
    } finally {
      torch.dispose(Object.values(weights));
      for (const model of [rgb, grey, backbone]) model.dispose();
    }
  });
});

describe('drop-path', () => {
  it('local: every join keeps at least one input, even with drop probability 1', () => {
    torch.manualSeed(1);
    for (const dropProb of [0.5, 0.9, 1]) {
      for (let i = 0; i < 200; i++) {
        const keep = models.sampleJoin(3, { kind: 'local', dropProb });
        assert.ok(keep.some(Boolean), `p=${dropProb}: a join lost every input`);
        if (dropProb === 1) assert.equal(keep.filter(Boolean).length, 1);
      }
    }
    // And in the network: a pass with p = 1 still produces finite output through one path per join.
    const model = new models.FractalNet({ ...tiny, localDropProb: 1, globalPathRatio: 0 });
    const x = torch.randn([2, 1, 12, 12]);
    const ran = unitsRun(model.train(), x);
    assert.ok(ran.length >= tiny.blocks!, 'each block ran at least one unit');
    x.dispose();
    model.dispose();
  });

  it('global: exactly one column is active, 2^(k-1) convolutions per block for column k', () => {
    const model = new models.FractalNet({ ...tiny, globalPathRatio: 1 });
    const x = torch.randn([2, 1, 12, 12]);
    const seen = new Set<number>();
    for (let seed = 0; seed < 12; seed++) {
      torch.manualSeed(seed);
      const plan = model.train().samplePathPlan();
      assert.equal(plan.kind, 'column');
      const column = tiny.columns - (plan as { fromDeepest: number }).fromDeepest;
      seen.add(column);
      torch.manualSeed(seed);
      const ran = unitsRun(model, x);
      assert.equal(ran.length, tiny.blocks! * 2 ** (column - 1), `column ${column}: ${ran.join(' ')}`);
      // One column: every unit in a block lies on one chain, no two at the same depth.
      assert.equal(new Set(ran).size, ran.length);
    }
    assert.equal(seen.size, tiny.columns, 'every column gets chosen');
    x.dispose();
    model.dispose();
  });

  it('the chosen paths repeat under the same seed and differ under another', () => {
    const model = new models.FractalNet(tiny);
    const x = torch.randn([2, 1, 12, 12]);
    const runs = (seed: number) => {
      torch.manualSeed(seed);
      return Array.from({ length: 6 }, () => unitsRun(model.train(), x).join(','));
    };
    assert.deepEqual(runs(5), runs(5));
    assert.notDeepEqual(runs(5), runs(6));
    x.dispose();
    model.dispose();
  });
});

/** Fixed batches of random images: the loop frees each batch, so each pass hands out copies. */
function fixedBatches(count: number, seed: number): BatchSource {
  torch.manualSeed(seed);
  const images = Array.from({ length: count }, () => torch.randn([4, 1, 12, 12]).keep());
  const labels = Array.from({ length: count }, () => torch.randint(0, 3, [4]).keep());
  return {
    numBatches: () => count,
    async *batches(_epoch: number, options: { startBatch?: number } = {}): AsyncIterable<Batch> {
      for (let i = options.startBatch ?? 0; i < count; i++) yield { images: images[i].clone(), labels: labels[i].clone(), indices: [] } as unknown as Batch;
    },
  };
}

describe('FractalNet training', () => {
  it('a few steps lower the loss', async () => {
    torch.manualSeed(3);
    const model = new models.FractalNet({ ...tiny, dropRates: [0, 0] });
    const data = fixedBatches(2, 8);
    const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const result = await train({ model, optimizer, schedule: constantSchedule(0.1), trainData: data, epochs: 6, numClasses: 3, seed: 1 });
    const losses = result.records.map((r) => r.trainLoss);
    assert.ok(losses[losses.length - 1] < losses[0], `losses ${losses.join(' ')}`);
    model.dispose();
  });

  it('a run stopped mid-epoch and resumed ends with the weights of an uninterrupted one (drop-path and dropout on)', async () => {
    const data = fixedBatches(3, 9);
    const fresh = () => {
      torch.manualSeed(21);
      const model = new models.FractalNet(tiny);
      return { model, optimizer: new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }) };
    };
    const common = { schedule: constantSchedule(0.05), trainData: data, epochs: 2, numClasses: 3, seed: 4 };
    const straight = fresh();
    await train({ ...straight, ...common });

    const first = fresh();
    const run = new RunDirectory(join(dir.path, 'run'), { model: 'tiny', modelOptions: {}, classes: ['a', 'b', 'c'], inputShape: [1, 12, 12], mean: [0], std: [1], cropPct: 1 });
    let steps = 0;
    const stopped = await train({ ...first, ...common, run, onStep: () => steps++, shouldStop: () => steps === 4 });
    assert.equal(stopped.status, 'stopped');
    first.model.dispose();

    const resumed = fresh();
    const state = run.loadState(resumed.model, resumed.optimizer);
    assert.deepEqual([state.epoch, state.batch], [1, 1]);
    await train({ ...resumed, ...common, resumeFrom: state });
    const bytes = (model: models.FractalNet) => Object.entries(model.stateDict()).map(([key, t]) => [key, Buffer.from(t.toBytes()).toString('base64')]);
    assert.deepEqual(bytes(resumed.model), bytes(straight.model));
    straight.model.dispose();
    resumed.model.dispose();
  });
});
