// Bounded memory for untrusted checkpoint files: the total that compressed zip entries
// may inflate to, expanded (stride-0) views that would turn a small file into a huge
// allocation, and run metadata whose fields size what predict and eval allocate.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import * as io from '../src/io/index.js';
import { MAX_EXPANDED_ELEMENTS } from '../src/io/pickle/torch-reader.js';
import { MAX_INFLATED_BYTES } from '../src/io/zip.js';
import { torch } from '../src/index.js';
import { parseWeightsInfo, readWeightsInfo } from '../src/train/checkpoint.js';
import { runPythonCode, tempDir } from './helpers/python.js';

const temp = tempDir('resnets-io-bounds-');
after(() => temp.cleanup());

describe('compressed torch.save archives', () => {
  it('are refused when their compressed entries would inflate past the total limit, before inflating any', () => {
    // Three deflated 100 MB storages of zeros: each under a per-entry cap, 300 MB
    // together, from a file of under 1 MB. The limit is checked on the directory, so
    // data.pkl is never even read.
    const zeros = new Uint8Array(100 * 1024 * 1024);
    const pickle = new TextEncoder().encode('never read');
    const bytes = zipSync({
      'archive/data.pkl': [pickle, { level: 0 }],
      'archive/data/0': [zeros, { level: 9 }],
      'archive/data/1': [zeros, { level: 9 }],
      'archive/data/2': [zeros, { level: 9 }],
    });
    assert.ok(bytes.length < 1e6, `the archive is ${bytes.length} bytes`);
    assert.throws(() => io.decodeTorchFile(bytes, 'bomb.pth'), new RegExp(`bomb\\.pth: its compressed entries would inflate to ${3 * zeros.length} bytes in all, over the limit of ${MAX_INFLATED_BYTES}`));
  });
});

describe('expanded (stride-0) views in torch.save files', () => {
  it('a classifier claiming millions of classes from one row is refused; a small expanded view still loads', () => {
    const huge = join(temp.path, 'huge.pth');
    const small = join(temp.path, 'small.pth');
    runPythonCode(`
import sys, torch
torch.save({'fc.weight': torch.zeros(1, 512).expand(5_000_000, 512), 'fc.bias': torch.zeros(1).expand(5_000_000)}, sys.argv[1])
torch.save({'w': torch.arange(3.0).expand(4, 3)}, sys.argv[2])
`, [huge, small]);
    assert.throws(
      () => io.load(huge),
      new RegExp(`claims 2560000000 elements from a storage of 512: expanded \\(stride-0\\) views over ${MAX_EXPANDED_ELEMENTS} elements are refused, since copying one would allocate 10240000000 bytes`),
    );
    const loaded = io.load(small) as Record<string, torch.Tensor>;
    assert.deepEqual(loaded.w.toArray(), [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]]);
    torch.dispose(loaded);
  });
});

describe('run metadata in weights files', () => {
  const good = {
    model: 'resnet20',
    model_options: '{"numClasses":2,"inChans":3}',
    classes: '["cat","dog"]',
    input_shape: '[3,32,32]',
    mean: '[0.5,0.5,0.5]',
    std: '[0.25,0.25,0.25]',
    crop_pct: '0.875',
    epoch: '3',
    test_accuracy: '0.5',
  };

  it('a well-formed record reads back as written', () => {
    const info = parseWeightsInfo(good, 'w.safetensors');
    assert.deepEqual(info, {
      model: 'resnet20',
      modelOptions: { numClasses: 2, inChans: 3 },
      classes: ['cat', 'dog'],
      inputShape: [3, 32, 32],
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
      cropPct: 0.875,
      epoch: 3,
      testAccuracy: 0.5,
      embeddingSize: undefined,
      loss: undefined,
    });
    assert.equal(parseWeightsInfo({ format: 'pt' }, 'w.safetensors'), undefined, 'plain weights have no run record');
  });

  const cases: [string, Record<string, string>, RegExp][] = [
    ['a 6000x6000 input', { input_shape: '[1,6000,6000]' }, /'input_shape' must be \[channels 1-64, height 1-4096, width 1-4096\], got "\[1,6000,6000\]"|got \[1,6000,6000\]/],
    ['classes given as a string', { classes: '"cat,dog"' }, /'classes' must be an array of at most 1000000 strings, got "cat,dog"/],
    ['classes of numbers', { classes: '[1,2]' }, /'classes' must be an array/],
    ['fewer class names than classes', { classes: '["cat"]' }, /'classes' must be 2 names \(model_options.numClasses\), got "1 names"/],
    ['a billion classes', { model_options: '{"numClasses":1000000000}', classes: '[]' }, /'model_options.numClasses' must be an integer from 0 to 1000000/],
    ['bad JSON', { mean: '[0.5,' }, /w\.safetensors: run metadata 'mean' must be JSON, got "\[0\.5,"/],
    ['a zero std', { std: '[0,1,1]' }, /'std' must be 3 finite positive numbers/],
    ['a mean per wrong channel count', { mean: '[0.5]' }, /'mean' must be 3 finite numbers/],
    ['a crop of 2', { crop_pct: '2' }, /'crop_pct' must be a number in \(0, 1\]/],
    ['a NaN accuracy', { test_accuracy: 'NaN' }, /'test_accuracy' must be a finite number/],
    ['a model name with a path', { model: '../../etc' }, /'model' must be a model name/],
    ['an embedding size of 0', { embedding_size: '0' }, /'embedding_size' must be an integer from 1 to 1000000/],
  ];
  for (const [name, change, text] of cases) {
    it(`refuses ${name}, naming the field`, () => {
      assert.throws(() => parseWeightsInfo({ ...good, ...change }, 'w.safetensors'), text);
    });
  }

  it('is checked when a weights file is read', () => {
    const file = join(temp.path, 'bad-meta.safetensors');
    torch.tidy(() => io.saveSafetensors({ w: torch.zeros([1]) }, file, { ...good, input_shape: '[1,6000,6000]' }));
    assert.throws(() => readWeightsInfo(file), /bad-meta\.safetensors: run metadata 'input_shape'/);
  });
});
