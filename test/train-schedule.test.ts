// Learning-rate schedules against torch.optim.lr_scheduler stepped once per iteration;
// ReduceLROnPlateau against torch's on the same metric sequences; early stopping's decisions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EarlyStopping } from '../src/train/early-stopping.js';
import { ReduceLROnPlateau } from '../src/train/plateau.js';
import { cosineSchedule, multiStepSchedule, oneCycleSchedule, scheduleFromSpec, stepSchedule, withWarmup, type Schedule } from '../src/train/schedule.js';
import { runPythonCode } from './helpers/python.js';

/** The lr (and momentum or beta1) torch's scheduler sets before each of `iterations` steps. */
const torchTrajectory = (setup: string, iterations: number, optimizer = 'torch.optim.SGD([p], lr=0.1)'): { lrs: number[]; momentums: number[] } =>
  JSON.parse(
    runPythonCode(`
import json, warnings, torch
warnings.filterwarnings("ignore")
from torch.optim import lr_scheduler as S
p = torch.nn.Parameter(torch.zeros(1))
opt = ${optimizer}
sched = ${setup}
lrs, momentums = [], []
for _ in range(${iterations}):
    group = opt.param_groups[0]
    lrs.append(group['lr'])
    momentums.append(group['betas'][0] if 'betas' in group else group.get('momentum', 0))
    opt.step()
    sched.step()
print(json.dumps({"lrs": lrs, "momentums": momentums}))
`),
  ) as { lrs: number[]; momentums: number[] };
const torchLrs = (setup: string, iterations: number): number[] => torchTrajectory(setup, iterations).lrs;

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

describe('OneCycleLR', () => {
  const momentumsOf = (schedule: Schedule, n: number) => Array.from({ length: n }, (_, i) => schedule.momentumAt!(i));
  const assertSeries = (ours: number[], torch: number[], what: string) =>
    torch.forEach((value, i) => assert.ok(Math.abs(ours[i] - value) <= 1e-9 * Math.max(1, Math.abs(value)), `${what} at ${i}: ${ours[i]} vs torch ${value}`));
  it('cosine, two phases, with the momentum cycled (SGD)', () => {
    const ref = torchTrajectory('S.OneCycleLR(opt, max_lr=0.4, total_steps=37)', 37, 'torch.optim.SGD([p], lr=0.1, momentum=0.9)');
    const schedule = oneCycleSchedule({ maxLr: 0.4, totalIterations: 37 });
    assertClose(schedule, ref.lrs);
    assertSeries(momentumsOf(schedule, 37), ref.momentums, 'momentum');
  });
  it('linear, three phases, other factors; beta1 of Adam cycled', () => {
    const ref = torchTrajectory(
      "S.OneCycleLR(opt, max_lr=0.01, total_steps=50, pct_start=0.25, anneal_strategy='linear', div_factor=10, final_div_factor=100, three_phase=True, base_momentum=0.8, max_momentum=0.9)",
      50,
      'torch.optim.AdamW([p], lr=0.1)',
    );
    const schedule = oneCycleSchedule({ maxLr: 0.01, totalIterations: 50, pctStart: 0.25, annealStrategy: 'linear', divFactor: 10, finalDivFactor: 100, threePhase: true, baseMomentum: 0.8, maxMomentum: 0.9 });
    assertClose(schedule, ref.lrs);
    assertSeries(momentumsOf(schedule, 50), ref.momentums, 'beta1');
  });
  it('without momentum cycling', () => {
    const schedule = oneCycleSchedule({ maxLr: 1, totalIterations: 10, cycleMomentum: false });
    assert.equal(schedule.momentumAt, undefined);
    assertClose(schedule, torchLrs('S.OneCycleLR(opt, max_lr=1, total_steps=10, cycle_momentum=False)', 10));
  });
  it('from an epoch spec: the whole run, no separate warm-up', () => {
    const s = scheduleFromSpec({ name: 'onecycle', lr: 0.4, epochs: 3, oneCycle: { pctStart: 0.2 } }, 11);
    assertClose(s, torchLrs('S.OneCycleLR(opt, max_lr=0.4, epochs=3, steps_per_epoch=11, pct_start=0.2)', 33));
    assert.throws(() => scheduleFromSpec({ name: 'onecycle', lr: 0.4, epochs: 3, warmupEpochs: 1 }, 11), /onecycle has its own warm-up/);
  });
});

describe('ReduceLROnPlateau', () => {
  const metrics = [1.0, 0.9, 0.95, 0.94, 0.93, 0.9, 0.91, 0.89, 0.8999, 0.92, 0.93, 0.94, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77];
  const torchLrsAfter = (options: string) =>
    JSON.parse(
      runPythonCode(`
import json, torch
p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=0.1)
sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, ${options})
lrs = []
for m in ${JSON.stringify(metrics)}:
    sched.step(m)
    lrs.append(opt.param_groups[0]['lr'])
print(json.dumps(lrs))
`),
    ) as number[];
  const cases: [string, ConstructorParameters<typeof ReduceLROnPlateau>[0]][] = [
    ["mode='min', patience=2", { lr: 0.1, patience: 2 }],
    ["mode='min', patience=1, factor=0.5, cooldown=2, min_lr=0.02", { lr: 0.1, patience: 1, factor: 0.5, cooldown: 2, minLr: 0.02 }],
    ["mode='min', patience=0, threshold=0.05, threshold_mode='abs'", { lr: 0.1, patience: 0, threshold: 0.05, thresholdMode: 'abs' }],
    ["mode='max', patience=1, threshold=0.01", { lr: 0.1, mode: 'max', patience: 1, threshold: 0.01 }],
    ["mode='max', patience=0, threshold_mode='abs', factor=0.3, eps=0.05", { lr: 0.1, mode: 'max', patience: 0, thresholdMode: 'abs', factor: 0.3, eps: 0.05 }],
  ];
  for (const [torchOptions, ours] of cases) {
    it(torchOptions, () => {
      const plateau = new ReduceLROnPlateau(ours);
      const lrs = metrics.map((m) => (plateau.step(m), plateau.lr));
      assert.deepEqual(lrs, torchLrsAfter(torchOptions));
    });
  }
  it('a state saved mid-way continues with the same decisions', () => {
    const straight = new ReduceLROnPlateau({ lr: 0.1, patience: 1, cooldown: 1 });
    const first = new ReduceLROnPlateau({ lr: 0.1, patience: 1, cooldown: 1 });
    metrics.slice(0, 7).forEach((m) => first.step(m));
    const resumed = new ReduceLROnPlateau({ lr: 0.1, patience: 1, cooldown: 1 });
    resumed.loadStateDict(JSON.parse(JSON.stringify(first.stateDict())));
    const a = metrics.map((m) => (straight.step(m), straight.lr)).slice(7);
    const b = metrics.slice(7).map((m) => (resumed.step(m), resumed.lr));
    assert.deepEqual(b, a);
  });
  it('the plateau schedule holds the reduced lr after its warm-up', () => {
    const s = scheduleFromSpec({ name: 'plateau', lr: 0.1, epochs: 5, warmupEpochs: 1 }, 10);
    assert.ok(s.plateau);
    assert.ok(Math.abs(s.lrAt(0) - 0.01) < 1e-12);
    assert.equal(s.lrAt(20), 0.1);
    s.plateau.lr = 0.01;
    assert.equal(s.lrAt(20), 0.01);
  });
});

describe('early stopping (Keras EarlyStopping decisions)', () => {
  const stopEpoch = (values: number[], options: ConstructorParameters<typeof EarlyStopping>[0]) => {
    const stopper = new EarlyStopping(options);
    const index = values.findIndex((value, i) => stopper.update(value, i + 1));
    return index < 0 ? undefined : index + 1;
  };
  it('stops after `patience` epochs without improvement', () => {
    // Losses: the best is epoch 2; epochs 3, 4, 5 do not improve it.
    assert.equal(stopEpoch([1, 0.8, 0.85, 0.81, 0.9, 0.5], { patience: 3 }), 5);
    assert.equal(stopEpoch([1, 0.8, 0.85, 0.81, 0.9, 0.5], { patience: 4 }), undefined);
  });
  it('an improvement smaller than minDelta does not count; mode max for accuracies', () => {
    assert.equal(stopEpoch([1, 0.97, 0.96, 0.5], { patience: 2, minDelta: 0.05 }), 3);
    assert.equal(stopEpoch([0.5, 0.6, 0.6, 0.59, 0.61], { patience: 2, mode: 'max' }), 4);
  });
  it('patience 0 stops at the first epoch that does not improve, never at the first epoch', () => {
    assert.equal(stopEpoch([1, 0.9, 0.95], { patience: 0 }), 3);
    assert.equal(stopEpoch([1], { patience: 0 }), undefined);
  });
  it('its state survives a resume', () => {
    const a = new EarlyStopping({ patience: 2 });
    [1, 0.8, 0.9].forEach((v, i) => a.update(v, i + 1));
    const b = new EarlyStopping({ patience: 2 });
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    assert.equal(b.update(0.85, 4), true);
    assert.equal(b.bestEpoch, 2);
  });
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
