// Learning-rate schedules against torch.optim.lr_scheduler stepped once per iteration.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cosineSchedule, multiStepSchedule, scheduleFromSpec, stepSchedule, withWarmup, type Schedule } from '../src/train/schedule.js';
import { runPythonCode } from './helpers/python.js';

const torchLrs = (setup: string, iterations: number): number[] =>
  JSON.parse(
    runPythonCode(`
import json, warnings, torch
warnings.filterwarnings("ignore")
from torch.optim import lr_scheduler as S
p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=0.1)
sched = ${setup}
lrs = []
for _ in range(${iterations}):
    lrs.append(opt.param_groups[0]['lr'])
    opt.step()
    sched.step()
print(json.dumps(lrs))
`),
  ) as number[];

function assertClose(schedule: Schedule, expected: number[], tolerance = 1e-9): void {
  expected.forEach((lr, i) => assert.ok(Math.abs(schedule.lrAt(i) - lr) <= tolerance * Math.max(1, lr), `iteration ${i}: ${schedule.lrAt(i)} vs torch ${lr}`));
}

describe('schedules match torch.optim.lr_scheduler', () => {
  it('step', () => assertClose(stepSchedule({ lr: 0.1, stepSize: 7, gamma: 0.5 }), torchLrs('S.StepLR(opt, step_size=7, gamma=0.5)', 30)));
  it('multi-step', () =>
    assertClose(multiStepSchedule({ lr: 0.1, milestones: [20, 5, 12] }), torchLrs('S.MultiStepLR(opt, milestones=[5, 12, 20], gamma=0.1)', 30)));
  it('cosine', () =>
    assertClose(cosineSchedule({ lr: 0.1, totalIterations: 25, minLr: 0.001 }), torchLrs('S.CosineAnnealingLR(opt, T_max=25, eta_min=0.001)', 25), 1e-6));
  it('linear warm-up then cosine', () =>
    assertClose(
      withWarmup(cosineSchedule({ lr: 0.1, totalIterations: 20 }), { iterations: 5, startFactor: 0.2 }),
      torchLrs('S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.2, total_iters=5), S.CosineAnnealingLR(opt, T_max=20)], milestones=[5])', 25),
      1e-6,
    ));
});

describe('schedules from epoch specs', () => {
  it('cosine with warm-up ends at minLr and starts low', () => {
    const s = scheduleFromSpec({ name: 'cosine', lr: 0.2, epochs: 10, warmupEpochs: 1, warmupStartFactor: 0.1 }, 100);
    assert.ok(Math.abs(s.lrAt(0) - 0.02) < 1e-12);
    assert.ok(Math.abs(s.lrAt(100) - 0.2) < 1e-12);
    assert.ok(s.lrAt(999) < 1e-5);
    for (let i = 101; i < 1000; i++) assert.ok(s.lrAt(i) <= s.lrAt(i - 1), 'cosine decays monotonically');
  });
  it('multistep milestones are epochs', () => {
    const s = scheduleFromSpec({ name: 'multistep', lr: 1, epochs: 30, milestones: [10, 20], gamma: 0.1 }, 50);
    assert.equal(s.lrAt(499), 1);
    assert.ok(Math.abs(s.lrAt(500) - 0.1) < 1e-12);
    assert.ok(Math.abs(s.lrAt(1000) - 0.01) < 1e-12);
  });
  it('step and multistep decays fall at the same epochs with a warm-up', () => {
    const step = scheduleFromSpec({ name: 'step', lr: 1, epochs: 9, stepEpochs: 3, gamma: 0.1, warmupEpochs: 1 }, 10);
    const multi = scheduleFromSpec({ name: 'multistep', lr: 1, epochs: 9, milestones: [3, 6], gamma: 0.1, warmupEpochs: 1 }, 10);
    for (const s of [step, multi]) {
      assert.ok(s.lrAt(0) < 0.2, 'warming up');
      assert.equal(s.lrAt(29), 1);
      assert.ok(Math.abs(s.lrAt(30) - 0.1) < 1e-12);
      assert.ok(Math.abs(s.lrAt(60) - 0.01) < 1e-12);
    }
  });
  it('refuses a warm-up as long as the run', () => {
    assert.throws(() => scheduleFromSpec({ name: 'cosine', lr: 0.1, epochs: 2, warmupEpochs: 2 }, 10), /warm-up of 2 epochs would take the whole 2-epoch run/);
  });
  it('is a pure function of the iteration', () => {
    const s = scheduleFromSpec({ name: 'step', lr: 0.1, epochs: 9, stepEpochs: 3 }, 10);
    const forward = Array.from({ length: 90 }, (_, i) => s.lrAt(i));
    const backward = Array.from({ length: 90 }, (_, i) => s.lrAt(89 - i)).reverse();
    assert.deepEqual(forward, backward);
  });
  it('rejects unknown names', () => {
    assert.throws(() => scheduleFromSpec({ name: 'bogus' as 'step', lr: 0.1, epochs: 1 }, 1), /unknown schedule 'bogus'/);
  });
});

describe('non-finite learning rates', () => {
  it('refuses non-finite or non-positive values in the spec, naming the field', () => {
    for (const [spec, text] of [
      [{ lr: Number.NaN }, /schedule: lr must be a finite positive number, got NaN/],
      [{ lr: Infinity }, /schedule: lr must be a finite positive number, got Infinity/],
      [{ lr: -1 }, /schedule: lr must be a finite positive number, got -1/],
      [{ gamma: Number.NaN }, /schedule: gamma must be a finite positive number/],
      [{ minLr: -Infinity }, /schedule: minLr must be a finite non-negative number/],
    ] as const) {
      assert.throws(() => scheduleFromSpec({ name: 'step', lr: 0.1, epochs: 4, ...spec }, 10), text);
    }
  });

  it('refuses a schedule whose arithmetic overflows to Infinity, naming the step', () => {
    // 1e308 is finite, but the cosine's (lr - minLr) * (1 + cos) overflows at the first step.
    assert.throws(() => scheduleFromSpec({ name: 'cosine', lr: 1e308, epochs: 2 }, 5), /gives Infinity at step 1; use a smaller --lr/);
    assert.throws(() => scheduleFromSpec({ name: 'constant', lr: 1e300, epochs: 1 }, 5), /gives 1e\+300 at step 1, beyond the largest float32 value/);
    assert.doesNotThrow(() => scheduleFromSpec({ name: 'cosine', lr: 1e30, epochs: 2 }, 5));
  });
});
