// PyTorch's ownership rules for state dicts. stateDict() returns detached views of the
// model's own storage: disposing them leaves the model whole, writing into them in place
// changes the model, and they record no gradient. Loading copies and leaves the dict the
// caller's, so the README's line (a tidy() around load and copy) holds memory flat
// however often it runs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import { createModel } from '../src/models/index.js';
import * as torch from '../src/torch/index.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-ownership-');
after(() => temp.cleanup());

describe('stateDict() and loadStateDict() ownership', () => {
  it('disposing a state dict leaves the model working; in-place writes reach the model', () => {
    const model = createModel('resnet20');
    try {
      const input = torch.randn([1, 3, 32, 32]);
      model.eval();
      const before = torch.tidy(() => torch.noGrad(() => model.call(input)).toArray());
      const dict = model.stateDict();
      assert.ok(Object.values(dict).every((t) => !t.requiresGrad), 'detached: no gradient recorded');
      torch.dispose(dict);
      assert.ok(model.parameters().every((p) => !p.isDisposed && p.requiresGrad), 'the parameters are untouched');
      assert.deepEqual(torch.tidy(() => torch.noGrad(() => model.call(input)).toArray()), before);

      torch.tidy(() => {
        model.stateDict()['fc.bias'].fill_(7);
        const bias = model.getSubmodule('fc').getParameter('bias')!;
        assert.deepEqual([...bias.toTypedArray()], Array(10).fill(7), 'a write into the state dict is a write into the model');
      });
      input.dispose();
    } finally {
      model.dispose();
    }
  });

  it("the README's load line, 50 times over, leaves native memory where it was", () => {
    const readmeLine = "torch.tidy(() => model.loadStateDict(io.load('resnet18.safetensors')));";
    assert.ok(readFileSync('README.md', 'utf8').includes(readmeLine.replace('resnet18', 'resnet50')), 'the README shows this line');
    const file = join(temp.path, 'resnet18.safetensors');
    const model = createModel('resnet18');
    try {
      torch.tidy(() => io.save(model.stateDict(), file));
      torch.tidy(() => model.loadStateDict(io.load(file)));
      const start = torch.memory();
      for (let i = 0; i < 50; i++) torch.tidy(() => model.loadStateDict(io.load(file)));
      const end = torch.memory();
      assert.equal(end.liveTensors, start.liveTensors, 'live tensors');
      assert.equal(end.nativeBytes, start.nativeBytes, 'native bytes');
    } finally {
      model.dispose();
    }
  });

  it('without the scope the loaded dict stays live until the caller disposes it', () => {
    const model = createModel('resnet20');
    const file = join(temp.path, 'resnet20.safetensors');
    try {
      torch.tidy(() => io.save(model.stateDict(), file));
      const start = torch.memory();
      const dict = io.load(file);
      model.loadStateDict(dict);
      assert.ok(torch.memory().nativeBytes > start.nativeBytes, 'the dict is a copy the caller owns');
      torch.dispose(dict);
      assert.deepEqual(torch.memory(), start);
    } finally {
      model.dispose();
    }
  });
});
