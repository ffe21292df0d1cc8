// Checkpoints cross between PyTorch/NumPy and us in both directions, value for value.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as io from '../src/io/index.js';
import * as torch from '../src/torch/index.js';
import type { Tensor } from '../src/torch/index.js';
import { runPython, tempDir } from './helpers/python.js';

interface TensorSpec {
  dtype: string;
  shape: number[];
  values: (number | boolean)[];
}
interface ManifestEntry {
  tensors: Record<string, TensorSpec>;
  wrapped?: string;
  ordered?: boolean;
  objects?: Record<string, unknown>;
  metadata?: Record<string, string>;
  strides?: Record<string, number[]>;
  requires_grad?: string[];
  weights_only?: boolean;
}
type Manifest = Record<string, ManifestEntry>;

/** dtype, shape and C-order values, in the manifest's JSON form. */
function specOf(tensor: Tensor): TensorSpec {
  const isBool = tensor.dtype === 'bool';
  const values = Array.from(tensor.toTypedArray() as ArrayLike<number | bigint>, (v) => (isBool ? v !== 0 : Number(v)));
  return { dtype: tensor.dtype, shape: tensor.shape, values };
}

function assertTensor(actual: unknown, expected: TensorSpec, label: string): void {
  assert.ok(actual instanceof torch.Tensor, `${label}: not a tensor`);
  assert.deepEqual(specOf(actual), expected, label);
}

/** `a.b` reaches object['a']['b'] when there is no flat key 'a.b'. */
function lookup(container: unknown, dotted: string): unknown {
  const record = container as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(record, dotted)) return record[dotted];
  const [head, ...rest] = dotted.split('.');
  return lookup(record[head], rest.join('.'));
}

describe('io: files written by PyTorch and NumPy', () => {
  const dir = tempDir('resnets-io-py-');
  let manifest: Manifest;
  before(() => {
    runPython('io_fixtures.py', ['write', dir.path]);
    manifest = JSON.parse(readFileSync(join(dir.path, 'manifest.json'), 'utf8')) as Manifest;
  });
  after(() => dir.cleanup());

  test('torch.save state dicts load with identical values, dtypes and key order', () => {
    for (const file of ['state_dict.pth', 'module.pt']) {
      const expected = manifest[file];
      torch.tidy(() => {
        const dict = io.load(join(dir.path, file));
        assert.deepEqual(Object.keys(dict), Object.keys(expected.tensors), file);
        for (const [name, spec] of Object.entries(expected.tensors)) assertTensor(lookup(dict, name), spec, `${file}: ${name}`);
      });
    }
  });

  test('views keep their strides and storage offsets', () => {
    torch.tidy(() => {
      const dict = io.load(join(dir.path, 'state_dict.pth'));
      assert.deepEqual(dict.transposed.strides, manifest['state_dict.pth'].strides?.transposed);
      assert.equal(dict.transposed.isContiguous(), false);
      assertTensor(dict['shared.row1'], manifest['state_dict.pth'].tensors['shared.row1'], 'shared.row1');
    });
  });

  test('a checkpoint wrapping the state dict is unwrapped by load and kept whole by loadTorchFile', () => {
    const file = join(dir.path, 'checkpoint.pth');
    const expected = manifest['checkpoint.pth'];
    torch.tidy(() => {
      const dict = io.load(file);
      for (const [name, spec] of Object.entries(expected.tensors)) assertTensor(dict[name], spec, name);
      const whole = io.loadTorchFile(file) as Record<string, unknown>;
      assert.equal(whole.epoch, 3);
      assert.deepEqual(Object.keys(io.stateDictFrom(whole)), Object.keys(expected.tensors));
    });
  });

  test('loadTorchFile returns plain data, parameters and nested tensors', () => {
    const expected = manifest['objects.pth'];
    torch.tidy(() => {
      const value = io.loadTorchFile(join(dir.path, 'objects.pth')) as Record<string, unknown>;
      for (const [name, spec] of Object.entries(expected.tensors)) assertTensor(lookup(value, name), spec, name);
      assert.equal((value.weight as Tensor).requiresGrad, true);
      assert.deepEqual(value.plain, [1, 2.5, 'text', null, true]);
      assert.ok(Object.isFrozen(value.pair), 'a tuple comes back frozen');
      assert.deepEqual([...(value.pair as unknown[])], [4, 'b']);
      assert.equal(value.big, 2n ** 70n);
    });
    assert.throws(() => io.load(join(dir.path, 'objects.pth')), /no state dict found.*'plain' is an array/);
  });

  test('.npy files load with their dtypes; Fortran order, object and big-endian arrays are refused', () => {
    for (const [file, entry] of Object.entries(manifest).filter(([name]) => name.endsWith('.npy'))) {
      torch.tidy(() => assertTensor(io.loadNpy(join(dir.path, file)), entry.tensors.value, file));
    }
    assert.throws(() => io.loadNpy(join(dir.path, 'fortran.npy')), /Fortran-order arrays are not supported/);
    assert.throws(() => io.loadNpy(join(dir.path, 'object.npy')), /object arrays .* not supported/);
    assert.throws(() => io.loadNpy(join(dir.path, 'bigendian.npy')), /big-endian/);
  });

  test('safetensors load with values and __metadata__', () => {
    const file = join(dir.path, 'model.safetensors');
    const expected = manifest['model.safetensors'];
    torch.tidy(() => {
      const dict = io.load(file);
      assert.deepEqual(Object.keys(dict), Object.keys(expected.tensors));
      for (const [name, spec] of Object.entries(expected.tensors)) assertTensor(dict[name], spec, name);
    });
    assert.deepEqual(io.loadSafetensorsMetadata(file), expected.metadata);
    torch.tidy(() => assert.deepEqual(io.decodeSafetensors(readFileSync(file)).metadata, expected.metadata));
  });
});

describe('io: files we write, read by PyTorch and NumPy', () => {
  const dir = tempDir('resnets-io-ts-');
  after(() => dir.cleanup());

  function referenceStateDict(): io.StateDict {
    torch.manualSeed(7);
    const base = torch.arange(0, 12, 1, { dtype: 'float32' }).reshape(3, 4);
    return {
      'layer1.0.conv1.weight': torch.randn([2, 3, 3, 3]),
      'fc.weight': torch.randn([3, 2], { dtype: 'float64' }),
      half: torch.randn([5]).to('float16'),
      brain: torch.randn([5]).to('bfloat16'),
      long: torch.tensor([0, -7, 2 ** 40 + 1, 2 ** 53 - 1], { dtype: 'int64' }),
      int: torch.tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: 'int32' }),
      short: torch.tensor([-32768, 32767], { dtype: 'int16' }),
      char: torch.tensor([-128, 127], { dtype: 'int8' }),
      byte: torch.tensor([0, 255, 17], { dtype: 'uint8' }),
      mask: torch.tensor([true, false, true]),
      transposed: base.T,
      scalar: torch.tensor(2.5),
      empty: torch.zeros([0]),
      empty2d: torch.zeros([2, 0], { dtype: 'int64' }),
    };
  }

  test('torch.save files, .npy files and safetensors written here load in Python identically', () => {
    torch.tidy(() => {
      const dict = referenceStateDict();
      const specs = Object.fromEntries(Object.entries(dict).map(([name, tensor]) => [name, specOf(tensor)]));
      const manifest: Manifest = {};

      io.save(dict, join(dir.path, 'ours.pth'));
      manifest['ours.pth'] = { tensors: specs, ordered: true };

      const pair = Object.freeze([1, 'a']);
      io.saveTorchFile({ state_dict: dict, epoch: 3, arch: 'resnet18', milestones: [30, 60], pair, big: 2n ** 70n, none: null }, join(dir.path, 'checkpoint.pt'));
      manifest['checkpoint.pt'] = {
        tensors: specs,
        wrapped: 'state_dict',
        ordered: true,
        objects: { epoch: 3, arch: 'resnet18', milestones: [30, 60], pair: [1, 'a'], big: String(2n ** 70n), none: null },
      };
      // PyTorch 1.13's weights-only loader cannot read floats at all, so this one is
      // checked with plain torch.load only.
      io.saveTorchFile({ model: dict, lr: 0.1, momentum: 0.9 }, join(dir.path, 'hyper.pt'));
      manifest['hyper.pt'] = { tensors: specs, wrapped: 'model', ordered: true, objects: { lr: 0.1, momentum: 0.9 }, weights_only: false };

      const metadata = { format: 'pt', epoch: '3' };
      io.saveSafetensors(dict, join(dir.path, 'ours.safetensors'), metadata);
      manifest['ours.safetensors'] = { tensors: specs, metadata };

      for (const name of ['layer1.0.conv1.weight', 'fc.weight', 'half', 'long', 'int', 'byte', 'mask', 'transposed', 'scalar', 'empty2d']) {
        io.save(dict[name], join(dir.path, `${name}.npy`));
        manifest[`${name}.npy`] = { tensors: { value: specs[name] } };
      }
      writeFileSync(join(dir.path, 'manifest.json'), JSON.stringify(manifest));

      const verdict = JSON.parse(runPython('io_fixtures.py', ['check', dir.path])) as { ok: boolean; checked: number; errors: string[] };
      assert.deepEqual(verdict.errors, []);
      assert.equal(verdict.ok, true);
      assert.equal(verdict.checked, Object.keys(manifest).length);

      // And back through our own readers.
      for (const file of ['ours.pth', 'checkpoint.pt', 'hyper.pt', 'ours.safetensors']) {
        const back = io.load(join(dir.path, file));
        assert.deepEqual(Object.keys(back), Object.keys(specs), file);
        for (const [name, spec] of Object.entries(specs)) assertTensor(back[name], spec, `${file}: ${name}`);
      }
      const checkpoint = io.loadTorchFile(join(dir.path, 'checkpoint.pt')) as Record<string, unknown>;
      assert.equal(checkpoint.big, 2n ** 70n);
      assert.equal(checkpoint.none, null);
      assert.equal((io.loadTorchFile(join(dir.path, 'hyper.pt')) as Record<string, unknown>).lr, 0.1);
      assert.deepEqual(io.loadSafetensorsMetadata(join(dir.path, 'ours.safetensors')), metadata);
    });
  });

  test('saving refuses what a format cannot hold', () => {
    torch.tidy(() => {
      assert.throws(() => io.save(torch.zeros([2]).to('bfloat16'), join(dir.path, 'x.npy')), /NumPy has no bfloat16/);
      assert.throws(() => io.save({ a: torch.zeros([1]) }, join(dir.path, 'x.npy')), /holds one tensor/);
      assert.throws(() => io.save(torch.zeros([1]), join(dir.path, 'x.pth')), /holds a state dict/);
      assert.throws(() => io.save({ a: 3 } as unknown as io.StateDict, join(dir.path, 'x.safetensors')), /'a' is a number, not a tensor/);
      assert.throws(() => io.save({}, join(dir.path, 'x.onnx')), /unknown checkpoint extension '\.onnx'/);
      const cyclic: unknown[] = [];
      cyclic.push(cyclic);
      assert.throws(() => io.saveTorchFile({ cyclic }, join(dir.path, 'x.pth')), /contains itself/);
      assert.throws(() => io.saveTorchFile({ when: new Date(0) }, join(dir.path, 'x.pth')), /cannot save a Date/);
    });
  });

  test('a __proto__ key stays an ordinary entry', () => {
    torch.tidy(() => {
      const dict: io.StateDict = {};
      Object.defineProperty(dict, '__proto__', { value: torch.ones([1]), enumerable: true });
      for (const file of ['proto.safetensors', 'proto.pth']) {
        io.save(dict, join(dir.path, file));
        const back = io.load(join(dir.path, file));
        assert.deepEqual(Object.keys(back), ['__proto__']);
        assert.equal(Object.getPrototypeOf(back), Object.prototype);
      }
    });
  });
});
