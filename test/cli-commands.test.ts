// The `resnets` command line, run as a user runs it (a child process): help on every
// subcommand, list, summary --json, run against the model's own forward, predict on a
// generated image, bench, and one-line errors with a non-zero exit code.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { buildProgram } from '../src/cli/main.js';
import * as io from '../src/io/index.js';
import { createModel } from '../src/models/index.js';
import { randn } from '../src/torch/creation.js';
import { manualSeed, noGrad } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import { resnets, type CliResult } from './helpers/cli.js';
import { tempDir } from './helpers/python.js';

const run = promisify(execFile);

const temp = tempDir('resnets-cli-');
after(() => temp.cleanup());
const file = (name: string) => join(temp.path, name);

describe('resnets --help', () => {
  const program = buildProgram();
  const subcommands = program.commands.map((command) => command.name());

  it('lists every subcommand', async () => {
    const { code, stdout } = await resnets('--help');
    assert.equal(code, 0);
    for (const name of ['list', 'summary', 'run', 'predict', 'bench']) assert.ok(subcommands.includes(name), `${name} is registered`);
    for (const name of subcommands) assert.match(stdout, new RegExp(`^  ${name}\\b`, 'm'));
  });

  it('every subcommand answers --help with exit code 0 and its options', async () => {
    // Two at a time: the machine's cores are shared.
    const results: [string, CliResult][] = [];
    for (let i = 0; i < subcommands.length; i += 2) {
      const pair = subcommands.slice(i, i + 2);
      results.push(...(await Promise.all(pair.map(async (name) => [name, await resnets(name, '--help')] as [string, CliResult]))));
    }
    for (const [name, { code, stdout }] of results) {
      assert.equal(code, 0, `${name} --help`);
      assert.match(stdout, new RegExp(`^Usage: resnets ${name}`, 'm'));
      const command = program.commands.find((c) => c.name() === name)!;
      for (const option of command.options) assert.ok(stdout.includes(option.long!), `${name} --help mentions ${option.long}`);
    }
  });

  it('without a command prints the usage on stderr and exits 2', async () => {
    const { code, stdout, stderr } = await resnets();
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /^Usage: resnets/);
  });

  it('bin/resnets.js says how to build when dist/ is missing', async () => {
    const bin = join(temp.path, 'package', 'bin');
    mkdirSync(bin, { recursive: true });
    copyFileSync(join('bin', 'resnets.js'), join(bin, 'resnets.js'));
    writeFileSync(join(temp.path, 'package', 'package.json'), '{"type": "module"}');
    const failed = await run(process.execPath, [join(bin, 'resnets.js'), 'list']).then(
      () => assert.fail('expected a failure'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^resnets: the build is missing \(dist\/cli\/main\.js\); run 'npm run build'/);
  });

  it('the documented options are there', () => {
    const longs = (name: string) => program.commands.find((c) => c.name() === name)!.options.map((o) => o.long);
    assert.deepEqual(['--json'].filter((o) => !longs('list').includes(o)), []);
    assert.deepEqual(['--input', '--json'].filter((o) => !longs('summary').includes(o)), []);
    assert.deepEqual(['--weights', '--num-classes', '--input', '--output'].filter((o) => !longs('run').includes(o)), []);
    assert.deepEqual(['--weights', '--labels', '--top', '--json'].filter((o) => !longs('predict').includes(o)), []);
    assert.deepEqual(['--batch-size', '--size', '--threads', '--json', '--compare-torch', '--fuse', '--channels-last'].filter((o) => !longs('bench').includes(o)), []);
  });
});

describe('resnets list', () => {
  it('groups by family and filters by it', async () => {
    const { code, stdout } = await resnets('list', '--family', 'resnetv2');
    assert.equal(code, 0);
    assert.match(stdout, /^resnetv2 \(6 models\)$/m);
    assert.match(stdout, /^preact_resnet \(2 models\)$/m);
    assert.match(stdout, /^resnetv2_50\s+resnetv2\s+25,549,352\s+3x224x224/m);
    assert.ok(!/^resnet50 /m.test(stdout));
    const unknown = await resnets('list', '--family', 'vgg');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown family 'vgg'; known: .*seresnet/);
  });

  it("shows a family's own training defaults under its table and in --json", async () => {
    const { code, stdout } = await resnets('list', '--family', 'fractalnet');
    assert.equal(code, 0);
    assert.match(stdout, /^training defaults \(SGD, when left out\): lr 0\.02, plain momentum \(no Nesterov\) \(the paper's SGD/m);
    const json = await resnets('list', 'fractalnet_fmnist', '--json');
    assert.deepEqual(JSON.parse(json.stdout)[0].trainingDefaults, { lr: 0.02, nesterov: false, source: "the paper's SGD: lr 0.02, momentum 0.9, no Nesterov" });
    const resnet = await resnets('list', 'resnet20', '--json');
    assert.equal(JSON.parse(resnet.stdout)[0].trainingDefaults, undefined);
  });

  it('shows resnet50 with its family, parameter count and input size', async () => {
    const { code, stdout } = await resnets('list', 'resnet5*');
    assert.equal(code, 0);
    const line = stdout.split('\n').find((l) => l.startsWith('resnet50 '));
    assert.ok(line, stdout);
    assert.match(line, /\bresnet\b.*\b25,557,032\b.*\b3x224x224\b/);
    assert.ok(!stdout.includes('resnet18'), 'the pattern filters');
  });
});

describe('resnets summary', () => {
  it('--json gives totals equal to the parameter count and the sum of the layers', async () => {
    const { code, stdout } = await resnets('summary', 'resnet18', '--input', '2x3x64x64', '--json');
    assert.equal(code, 0);
    const summary = JSON.parse(stdout) as {
      model: string;
      input: number[];
      totalParams: number;
      trainableParams: number;
      macs: number;
      layers: { path: string; type: string; outputShape: number[]; params: number; macs: number }[];
    };
    assert.equal(summary.model, 'resnet18');
    assert.deepEqual(summary.input, [2, 3, 64, 64]);
    assert.equal(summary.totalParams, 11_689_512);
    assert.equal(summary.trainableParams, 11_689_512);
    assert.equal(summary.layers.reduce((sum, layer) => sum + layer.params, 0), summary.totalParams);
    assert.equal(summary.layers.reduce((sum, layer) => sum + layer.macs, 0), summary.macs);
    const fc = summary.layers.find((layer) => layer.path === 'fc')!;
    assert.deepEqual(fc.outputShape, [2, 1000]);
    assert.equal(fc.macs, 512 * 1000, 'MACs are per image');
  });

  it('prints a table with totals', async () => {
    const { code, stdout } = await resnets('summary', 'resnet18', '--input', '1x3x32x32');
    assert.equal(code, 0);
    assert.match(stdout, /^layer1\.0\.conv1\s+Conv2d\s+\[1, 64, 8, 8\]\s+36,864\s+2,359,296$/m);
    assert.match(stdout, /^Total params:\s+11,689,512$/m);
  });
});

describe('resnets run and predict', () => {
  const checkpoint = file('resnet18-10.pth');
  const safetensors = file('resnet18-10.safetensors');
  const input = file('x.npy');
  const image = file('picture.png');

  before(async () => {
    manualSeed(7);
    // A randomly initialised model with 10 classes: `run` must read that from fc.weight.
    const model = createModel('resnet18', { numClasses: 10 });
    io.save(model.stateDict(), checkpoint);
    io.save(model.stateDict(), safetensors);
    model.dispose();
    const x = randn([1, 3, 64, 64]);
    io.save(x, input);
    x.dispose();
    const pixels = Buffer.alloc(90 * 70 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + (i >> 7)) % 256;
    await sharp(pixels, { raw: { width: 90, height: 70, channels: 3 } }).png().toFile(image);
  });

  it('run writes the eval-mode output of the checkpoint, reading the class count from it', async () => {
    const output = file('y.npy');
    const { code, stderr } = await resnets('run', 'resnet18', '--weights', checkpoint, '--input', input, '--output', output);
    assert.equal(code, 0, stderr);
    const [got, expected] = tidy(() => {
      const model = createModel('resnet18', { numClasses: 10 });
      model.loadStateDict(io.loadSafetensors(safetensors));
      model.eval();
      const want = noGrad(() => model.call(io.loadNpy(input)));
      model.dispose();
      return [io.loadNpy(output), want];
    });
    assert.deepEqual(got.shape, [1, 10]);
    assert.ok(got.allclose(expected, 1e-5, 1e-6), `${got.toArray()} vs ${expected.toArray()}`);
    got.dispose();
    expected.dispose();
  });

  it('run --features-only writes one file per stage from the full checkpoint, its classifier ignored', async () => {
    const output = file('features.npy');
    const { code, stdout, stderr } = await resnets('run', 'resnet18', '--weights', checkpoint, '--features-only', '--out-indices', '1,4', '--input', input, '--output', output);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /features\.0\.npy: layer1 \[1, 64, 16, 16\], stride 4/);
    const [got, expected] = tidy(() => {
      const backbone = createModel('resnet18', { featuresOnly: true, outIndices: [1, 4] });
      backbone.loadStateDict(io.loadSafetensors(safetensors));
      backbone.eval();
      const want = noGrad(() => backbone.call(io.loadNpy(input)));
      backbone.dispose();
      return [[io.loadNpy(file('features.0.npy')), io.loadNpy(file('features.1.npy'))], want];
    });
    assert.deepEqual(got.map((t) => t.shape), [[1, 64, 16, 16], [1, 512, 2, 2]]);
    got.forEach((t, i) => assert.ok(t.allclose(expected[i], 1e-5, 1e-6), `feature ${i}`));
    for (const t of [...got, ...expected]) t.dispose();
  });

  it('predict prints the top k classes with probabilities', async () => {
    const labels = file('labels.txt');
    writeFileSync(labels, Array.from({ length: 10 }, (_, i) => `class-${i}`).join('\n') + '\n');
    const { code, stdout, stderr } = await resnets('predict', 'resnet18', '--weights', safetensors, '--labels', labels, '--top', '3', image);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.equal(lines[0], image);
    const predictions = lines.slice(1);
    assert.equal(predictions.length, 3);
    const probabilities = predictions.map((line) => {
      const match = /^\s+(\d+\.\d+)%\s+class-(\d) \((\d)\)$/.exec(line);
      assert.ok(match, line);
      assert.equal(match[2], match[3]);
      return Number(match[1]);
    });
    assert.ok(probabilities[0] >= probabilities[1] && probabilities[1] >= probabilities[2]);

    const json = await resnets('predict', 'resnet18', '--weights', checkpoint, '--top', '10', '--json', image, image);
    assert.equal(json.code, 0, json.stderr);
    const results = JSON.parse(json.stdout) as { image: string; predictions: { index: number; label: string; probability: number }[] }[];
    assert.equal(results.length, 2);
    const total = results[0].predictions.reduce((sum, p) => sum + p.probability, 0);
    assert.ok(Math.abs(total - 1) < 1e-5, `all 10 probabilities sum to 1, got ${total}`);
    assert.deepEqual(results[0].predictions.slice(0, 3).map((p) => p.label), probabilities.map((_, i) => /class-(\d)/.exec(predictions[i])![1]));
  });

  describe('errors are one line with a non-zero exit code', () => {
    const cases: [string, () => string[], RegExp, number][] = [
      ['unknown model', () => ['summary', 'resnet9000'], /unknown model 'resnet9000'/, 1],
      ['missing weights file', () => ['run', 'resnet18', '--weights', file('missing.pth'), '--input', input, '--output', file('o.npy')], /weights file .*missing\.pth' does not exist/, 1],
      ['bad --input spec', () => ['summary', 'resnet18', '--input', '1x3xbig'], /--input.*1x3xbig/, 2],
      ['wrong checkpoint', () => ['run', 'resnet34', '--weights', checkpoint, '--input', input, '--output', file('o.npy')], /does not fit resnet34: missing keys: layer1\.2\./, 1],
      ['a tensor file as weights', () => ['run', 'resnet18', '--weights', input, '--input', input, '--output', file('o.npy')], /single tensor, not a state dict/, 1],
      ['an input that is not 4-D', () => ['run', 'resnet18', '--weights', checkpoint, '--input', file('flat.npy'), '--output', file('o.npy')], /must be 4-D/, 1],
      ['an unknown option', () => ['list', '--colour'], /unknown option '--colour'/, 2],
    ];
    const results = new Map<string, CliResult>();
    before(async () => {
      const flat = randn([3, 64, 64]);
      io.save(flat, file('flat.npy'));
      flat.dispose();
      // Two at a time: the machine's cores are shared.
      for (let i = 0; i < cases.length; i += 2) {
        await Promise.all(cases.slice(i, i + 2).map(async ([what, args]) => results.set(what, await resnets(...args()))));
      }
    });
    for (const [what, , message, exitCode] of cases) {
      it(what, () => {
        const { code, stdout, stderr } = results.get(what)!;
        assert.equal(code, exitCode);
        assert.equal(stdout, '');
        assert.match(stderr, /^resnets: [^\n]+\n$/);
        assert.match(stderr, message);
      });
    }
    it('leaves no output file behind', () => assert.ok(!existsSync(file('o.npy'))));
  });
});

describe('resnets bench', () => {
  it('--json reports images/s for each batch size and the checked inference mode', async () => {
    const { code, stdout, stderr } = await resnets('bench', 'resnet18', '--size', '32', '--batch-size', '1,2', '--warmup', '1', '--runs', '3', '--threads', '1', '--json');
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as {
      model: string;
      threads: number;
      mode: string;
      difference: number;
      results: { batchSize: number; resnets: { imagesPerSecond: number; timesMs: number[]; medianMs: number } }[];
    };
    assert.equal(report.model, 'resnet18');
    assert.equal(report.threads, 1);
    assert.ok(report.difference <= 1e-4, `mode ${report.mode} drifts ${report.difference}`);
    assert.deepEqual(report.results.map((r) => r.batchSize), [1, 2]);
    for (const { batchSize, resnets: ours } of report.results) {
      assert.equal(ours.timesMs.length, 3);
      assert.ok(Math.abs(ours.imagesPerSecond - (batchSize * 1000) / ours.medianMs) < 1e-9);
    }
  });

  it('--compare-torch times torchvision in the same run and prints the ratio', async () => {
    const { code, stdout, stderr } = await resnets('bench', 'resnet18', '--size', '32', '--batch-size', '2', '--warmup', '1', '--runs', '2', '--threads', '1', '--plain', '--compare-torch');
    assert.equal(code, 0, stderr);
    assert.match(stdout, /mode plain/);
    const row = stdout.split('\n').find((line) => /^\s*2\s/.test(line));
    assert.ok(row, stdout);
    const cells = row.trim().split(/\s+/);
    const ratio = Number(cells[5].replace('x', ''));
    assert.ok(Math.abs(ratio - Number(cells[1]) / Number(cells[3])) < 0.02, row);
  });
});

describe('model names the commands refuse, with what to do', () => {
  const weights = file('resnet20-names.safetensors');
  const input = file('names.npy');
  before(() => {
    const model = createModel('resnet20');
    io.save(model.stateDict(), weights);
    model.dispose();
    const x = randn([1, 3, 32, 32]);
    io.save(x, input);
    x.dispose();
  });

  it('a bare family name in run says to give --model-options', async () => {
    for (const family of ['resnet', 'densenet']) {
      const result = await resnets('run', family, '--weights', weights, '--input', input, '--output', file('names-y.npy'));
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`${family} is a family name: give --model-options with its required options`));
    }
  });

  it("train and demo name an unknown model as the other commands do, before the demo's banner", async () => {
    const train = await resnets('train', 'nosuch', '--data', 'fashion-mnist');
    assert.match(train.stderr, /unknown model 'nosuch'.*\(see 'resnets list'\)/);
    assert.doesNotMatch(train.stderr, /listModels/);
    const demo = await resnets('demo', '--model', 'nosuch');
    assert.match(demo.stderr, /unknown model 'nosuch'.*\(see 'resnets list'\)/);
    assert.equal(demo.stdout, '');
  });

  it('--model-options help says which commands take a family name', async () => {
    for (const command of ['bench', 'train']) {
      const help = (await resnets(command, '--help')).stdout.replace(/\s+/g, ' ');
      assert.match(help, /a family name with options is taken only by run, summary, convert, embed, verify, verify-eval/);
    }
    const bench = (await resnets('bench', '--help')).stdout.replace(/\s+/g, ' ');
    assert.match(bench, /--batch-size <list> batch sizes, comma-separated \(default: 1,8\)/);
    const openSet = (await resnets('open-set-demo', '--help')).stdout.replace(/\s+/g, ' ');
    assert.match(openSet, /\(default: arcface,softmax\)/);
    const verify = (await resnets('verify', '--help')).stdout;
    assert.equal(verify.match(/\(default/g)?.length, 1, 'the threshold default once');
    const run = (await resnets('run', '--help')).stdout.replace(/\s+/g, ' ');
    assert.match(run, /with a family name \(fresnet, resnet\) instead of a model name they describe a custom configuration/);
  });
});
