// The rough edges a newcomer hits, each as they hit it: eval and predict agree on the
// input size of a plain checkpoint; InferenceWorker reads a plain checkpoint's class count
// as `resnets run` does; no top-5 for five classes or fewer; options that do not apply are
// refused; the images dropLast leaves out are mentioned once; run says what it wrote and
// how it treats float64 and uint8 input; predict answers for the readable images and
// names the others; a TorchScript archive or a whole pickled model gets a hint; a missing
// output folder is named without temporary file names; "1 epoch"; summarize on 'meta'.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import { createModel } from '../src/models/index.js';
import * as tools from '../src/tools/index.js';
import * as torch from '../src/torch/index.js';
import { resnets } from './helpers/cli.js';
import { writeColourFolder } from './helpers/image-folder.js';
import { runPythonCode, tempDir } from './helpers/python.js';

const temp = tempDir('resnets-edges-');
after(() => temp.cleanup());
const file = (name: string) => join(temp.path, name);
const folder = file('colours');
const plain = file('resnet20-3-classes.safetensors');

describe('rough edges', { timeout: 240_000 }, () => {
  before(async () => {
    await writeColourFolder(folder, { classes: 3, perClass: 8, size: 24 });
    const model = createModel('resnet20', { numClasses: 3 });
    torch.tidy(() => io.save(model.stateDict(), plain));
    model.dispose();
    torch.tidy(() => {
      io.save(torch.rand([1, 3, 32, 32]).double(), file('x64.npy'));
      io.save(torch.rand([1, 3, 32, 32]).mul(255).to('uint8'), file('x8.npy'));
    });
  });

  it('eval uses the model input size for a plain checkpoint, as predict does, and shows no top-5 for 3 classes', async () => {
    const { code, stdout, stderr } = await resnets('eval', 'resnet20', '--weights', plain, '--data', folder, '--json');
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as { top5: number | null; images: number };
    assert.equal(result.top5, null);
    const text = await resnets('eval', 'resnet20', '--weights', plain, '--data', folder);
    assert.match(text.stdout, /32x32/, 'resnet20 is registered at 32x32; predict crops to 32 too');
    assert.doesNotMatch(text.stdout, /top-5/);
  });

  it('InferenceWorker.start reads the class count from a plain checkpoint', async () => {
    const worker = await tools.InferenceWorker.start({ model: 'resnet20', weights: plain, mode: 'plain', threads: 1 });
    try {
      const input = torch.rand([2, 3, 32, 32]);
      const output = await worker.run(input);
      assert.deepEqual(output.shape, [2, 3]);
      torch.dispose([input, output]);
    } finally {
      await worker.close();
    }
  });

  it('options that do not apply are refused', async () => {
    const noTest = await resnets('train', 'resnet20', '--data', folder, '--limit-test', '5', '--epochs', '1', '--out', file('r1'));
    assert.equal(noTest.code, 1);
    assert.match(noTest.stderr, /--limit-test 5: .*colours has no test split/);
    const size = await resnets('train', 'resnet20', '--data', 'fashion-mnist', '--image-size', '64', '--epochs', '1', '--out', file('r2'));
    assert.equal(size.code, 1);
    assert.match(size.stderr, /--image-size 64: for image folders only; Fashion-MNIST images are 28x28 grey/);
  });

  it('train mentions the images dropLast leaves out, once, and says "1 epoch"', async () => {
    const { code, stdout, stderr } = await resnets('train', 'resnet20', '--data', folder, '--image-size', '16', '--batch-size', '5', '--epochs', '1',
      '--threads', '1', '--no-progress', '--out', file('run'));
    assert.equal(code, 0, stderr);
    const notes = stdout.match(/note: 4 training images of 24 do not fill a last batch of 5/g) ?? [];
    assert.equal(notes.length, 1, stdout);
    assert.match(stdout, /finished 1 epoch in/);
  });

  it('run says what it wrote, converts float64 with a note and refuses uint8', async () => {
    const converted = await resnets('run', 'resnet20', '--weights', plain, '--input', file('x64.npy'), '--output', file('y.npy'));
    assert.equal(converted.code, 0, converted.stderr);
    assert.match(converted.stdout, /note: '.*x64\.npy' is float64; converted to float32/);
    assert.match(converted.stdout, /wrote .*y\.npy: float32 \[1, 3\]/);
    const bytes = await resnets('run', 'resnet20', '--weights', plain, '--input', file('x8.npy'), '--output', file('y8.npy'));
    assert.equal(bytes.code, 1);
    assert.match(bytes.stderr, /x8\.npy' holds uint8 values; the model takes floating-point input/);
  });

  it('the library names both dtypes for a float64 input, as it does for uint8', () => {
    const model = createModel('resnet20');
    try {
      torch.tidy(() => {
        assert.throws(() => model.call(torch.rand([1, 3, 32, 32]).double()), /resnet20 has float32 weights but the input is float64; convert the input with \.to\('float32'\)/);
        assert.throws(() => model.call(torch.rand([1, 3, 32, 32]).to('uint8')), /resnet20 expects a floating-point input, got uint8/);
      });
    } finally {
      model.dispose();
    }
  });

  it('predict answers for the readable images and names the unreadable one', async () => {
    const broken = file('broken.png');
    writeFileSync(broken, 'not an image');
    const good = join(folder, 'class0', '0.png');
    const { code, stdout, stderr } = await resnets('predict', 'resnet20', '--weights', plain, good, broken, '--top', '2');
    assert.equal(code, 1);
    assert.match(stdout, new RegExp(`^${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n {2,}\\d+\\.\\d+% {2}\\d`, 'm'));
    assert.match(stdout, /broken\.png\n {2}unreadable: /);
    assert.match(stderr, /1 of 2 images could not be read: .*broken\.png/);
  });

  it('a TorchScript archive and a whole pickled model get a hint to save state_dict()', async () => {
    runPythonCode(
      'import sys, torch\nm = torch.nn.Linear(2, 2)\ntorch.jit.save(torch.jit.script(m), sys.argv[1])\ntorch.save(m, sys.argv[2])',
      [file('scripted.pt'), file('whole.pt')],
    );
    const scripted = await resnets('run', 'resnet20', '--weights', file('scripted.pt'), '--input', file('x64.npy'), '--output', file('o.npy'));
    assert.match(scripted.stderr, /TorchScript archive \(torch\.jit\.save\).*torch\.save\(torch\.jit\.load\(path\)\.state_dict\(\)/);
    const whole = await resnets('run', 'resnet20', '--weights', file('whole.pt'), '--input', file('x64.npy'), '--output', file('o.npy'));
    assert.match(whole.stderr, /global 'torch\.nn\.modules\.linear\.Linear' is not allowed.*torch\.save\(model\.state_dict\(\), path\)/);
  });

  it('a missing output folder is named without temporary file names', async () => {
    const { code, stderr } = await resnets('run', 'resnet20', '--weights', plain, '--input', file('x64.npy'), '--output', file('missing/y.npy'));
    assert.equal(code, 1);
    assert.match(stderr, /cannot write '.*missing\/y\.npy': the folder '.*missing' does not exist/);
    assert.doesNotMatch(stderr, /\.tmp-/);
  });

  it("summarize works on a model built on 'meta' and agrees with the CPU model", () => {
    const meta = torch.withDefaultDevice('meta', () => createModel('resnet50', { init: false }));
    const cpu = createModel('resnet20', { init: false });
    const metaCifar = torch.withDefaultDevice('meta', () => createModel('resnet20', { init: false }));
    try {
      const summary = tools.summarize(meta, [1, 3, 224, 224]);
      assert.equal(summary.totalParams, 25_557_032);
      assert.equal(summary.macs, 4_089_184_256);
      assert.deepEqual(tools.summarize(metaCifar, [2, 3, 32, 32]), tools.summarize(cpu, [2, 3, 32, 32]));
    } finally {
      for (const model of [meta, cpu, metaCifar]) model.dispose();
    }
  });
});
