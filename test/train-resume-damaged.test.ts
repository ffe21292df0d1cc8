// A damaged state file is refused on --resume, naming what is wrong: a missing
// optimiser buffer, a training record with a null, missing or out-of-range field, NaN
// buffers, bad JSON. Each would otherwise resume to different weights (or crash later).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import { Linear } from '../src/nn/index.js';
import { randn } from '../src/torch/creation.js';
import { crossEntropy } from '../src/torch/functional.js';
import { manualSeed } from '../src/torch/runtime.js';
import { dispose, tidy } from '../src/torch/scope.js';
import type { Tensor } from '../src/torch/tensor.js';
import { parseTrainingState, RunDirectory, type TrainingState } from '../src/train/checkpoint.js';
import { initialState } from '../src/train/loop.js';
import { AdamW, SGD, type Optimizer } from '../src/train/optim/index.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-damaged-state-');
after(() => temp.cleanup());

const info = { model: 'linear', modelOptions: {}, classes: ['a', 'b'], inputShape: [1, 1, 4] as [number, number, number], mean: [0], std: [1], cropPct: 1 };
let runs = 0;

/** A run directory whose state file holds a model and optimiser after two real steps. */
function savedRun(makeOptimizer: (model: Linear) => Optimizer): { run: RunDirectory; state: TrainingState; fresh: () => { model: Linear; optimizer: Optimizer } } {
  manualSeed(1);
  const fresh = () => {
    const model = new Linear(4, 2);
    return { model, optimizer: makeOptimizer(model) };
  };
  const { model, optimizer } = fresh();
  for (let step = 0; step < 2; step++) {
    tidy(() => {
      optimizer.zeroGrad();
      crossEntropy(model.call(randn([3, 4])), randn([3]).gt(0).long()).backward();
      optimizer.step();
    });
  }
  const run = new RunDirectory(`${temp.path}/run${runs++}`, info);
  const state: TrainingState = { ...initialState(7), epoch: 1, batch: 1, iteration: 3, bestAccuracy: 0.5, bestEpoch: 1, partial: { lossSum: 0.7, correct: 1, seen: 3, seconds: 0.1 } };
  run.saveState(model, optimizer, state);
  model.dispose();
  optimizer.disposeState();
  return { run, state, fresh };
}

/** Rewrites the run's state file through `change` (on its tensors and metadata). */
function tamper(run: RunDirectory, change: (tensors: Record<string, Tensor>, metadata: Record<string, string>) => void): void {
  const path = run.file('state');
  const { tensors, metadata } = io.decodeSafetensors(readFileSync(path), path);
  change(tensors, metadata);
  io.saveSafetensors(tensors, path, metadata);
  dispose(tensors);
}

function assertRefused(run: RunDirectory, fresh: () => { model: Linear; optimizer: Optimizer }, text: RegExp): void {
  const { model, optimizer } = fresh();
  assert.throws(() => run.loadState(model, optimizer), text);
  model.dispose();
  optimizer.disposeState();
}

const sgd = (model: Linear) => new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
const adamw = (model: Linear) => new AdamW(model.parameters(), { lr: 0.01 });

describe('resuming from a damaged state file', () => {
  it('an intact state loads back exactly', () => {
    const { run, state, fresh } = savedRun(sgd);
    const { model, optimizer } = fresh();
    assert.deepEqual(run.loadState(model, optimizer), state);
    model.dispose();
    optimizer.disposeState();
  });

  it('a missing momentum buffer is refused, naming it', () => {
    const { run, fresh } = savedRun(sgd);
    tamper(run, (tensors) => {
      tensors['optimizer.state.1.momentum_buffer'].dispose();
      delete tensors['optimizer.state.1.momentum_buffer'];
    });
    assertRefused(run, fresh, /state\.safetensors: optimizer state is missing 'state\.1\.momentum_buffer' \(parameter 1, shape \[2\]\): the state file is damaged/);
  });

  it('a missing buffer is refused in a state file without the list of stepped parameters too', () => {
    const { run, fresh } = savedRun(sgd);
    tamper(run, (tensors, metadata) => {
      const meta = JSON.parse(metadata.optimizer);
      delete meta.stateful;
      metadata.optimizer = JSON.stringify(meta);
      tensors['optimizer.state.0.momentum_buffer'].dispose();
      delete tensors['optimizer.state.0.momentum_buffer'];
    });
    assertRefused(run, fresh, /optimizer state is missing 'state\.0\.momentum_buffer'/);
  });

  it("AdamW: a missing moment estimate or step count is refused", () => {
    const first = savedRun(adamw);
    tamper(first.run, (tensors) => {
      tensors['optimizer.state.0.exp_avg_sq'].dispose();
      delete tensors['optimizer.state.0.exp_avg_sq'];
    });
    assertRefused(first.run, first.fresh, /missing 'state\.0\.exp_avg_sq'/);
    const second = savedRun(adamw);
    tamper(second.run, (_, metadata) => {
      const meta = JSON.parse(metadata.optimizer);
      delete meta.counters['1'];
      metadata.optimizer = JSON.stringify(meta);
    });
    assertRefused(second.run, second.fresh, /missing the step count of parameter 1/);
  });

  it('NaN in a buffer, a negative lr or a bad hyper-parameter in the record is refused', () => {
    const nan = savedRun(sgd);
    tamper(nan.run, (tensors) => tensors['optimizer.state.0.momentum_buffer'].fill_(Number.NaN));
    assertRefused(nan.run, nan.fresh, /optimizer state 'state\.0\.momentum_buffer' holds NaN or infinite values/);
    const lr = savedRun(sgd);
    tamper(lr.run, (_, metadata) => {
      const meta = JSON.parse(metadata.optimizer);
      meta.groups[0].lr = -1;
      metadata.optimizer = JSON.stringify(meta);
    });
    assertRefused(lr.run, lr.fresh, /optimizer state: group 0 'lr' must be a finite non-negative number, got -1/);
    const json = savedRun(sgd);
    tamper(json.run, (_, metadata) => (metadata.optimizer = '{"kind":'));
    assertRefused(json.run, json.fresh, /the optimizer record is not valid JSON/);
  });

  for (const [name, change, text] of [
    ['"iteration": null', (t: Record<string, unknown>) => (t.iteration = null), /'iteration' must be a non-negative integer, got null/],
    ['no "epoch"', (t: Record<string, unknown>) => delete t.epoch, /'epoch' must be a non-negative integer, got undefined/],
    ['"partial": null', (t: Record<string, unknown>) => (t.partial = null), /'partial' must be an object, got null/],
    ['a string seed', (t: Record<string, unknown>) => (t.seed = '7'), /'seed' must be a non-negative integer, got "7"/],
    ['a NaN loss sum', (t: Record<string, unknown>) => ((t.partial as Record<string, unknown>).lossSum = 'NaN'), /'partial\.lossSum' must be a finite non-negative number/],
    ['more correct than seen', (t: Record<string, unknown>) => ((t.partial as Record<string, unknown>).correct = 9), /'partial\.correct' \(9\) exceeds 'partial\.seen' \(3\)/],
    ['an accuracy of 2', (t: Record<string, unknown>) => (t.bestAccuracy = 2), /'bestAccuracy' must be -1 \(no epoch yet\) or a number in \[0, 1\], got 2/],
  ] as const) {
    it(`a training record with ${name} is refused`, () => {
      const good = { ...initialState(7), epoch: 1, batch: 1, iteration: 3, bestAccuracy: 0.5, bestEpoch: 1, partial: { lossSum: 0.7, correct: 1, seen: 3, seconds: 0.1 } };
      const damaged = structuredClone(good) as unknown as Record<string, unknown>;
      change(damaged);
      assert.throws(() => parseTrainingState(damaged), text);
    });
  }

  it('the record is checked when the state file is loaded', () => {
    const { run, fresh } = savedRun(sgd);
    tamper(run, (_, metadata) => {
      const training = JSON.parse(metadata.training);
      training.iteration = null;
      metadata.training = JSON.stringify(training);
    });
    assertRefused(run, fresh, /the training record in the state file is damaged: 'iteration' must be a non-negative integer, got null/);
  });
});
