// Our SGD, AdamW and RMSprop follow torch.optim's trajectories on the same tensors and
// gradients; RMSpropTF and LAMB follow timm's definitions (written out in the reference script).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torch, nn } from '../src/index.js';
import { AdamW, Lamb, RMSprop, RMSpropTF, SGD, clipGradNorm, paramGroupsFor, type Optimizer } from '../src/train/optim/index.js';
import { runPython } from './helpers/python.js';

interface Reference {
  initial: number[][];
  grads: number[][][];
  final: number[][];
  state: Record<string, number[]>;
}

interface Case {
  optimizer: 'sgd' | 'adamw' | 'rmsprop' | 'rmsproptf' | 'lamb';
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  betas?: [number, number];
  eps?: number;
  alpha?: number;
  centered?: boolean;
  max_grad_norm?: number;
  trust_clip?: boolean;
  always_adapt?: boolean;
  /** Momentum (or beta1) per step, as OneCycleLR's cycle_momentum sets it. */
  momentums?: number[];
}

const shapes = [[[3, 4], [4, 2, 3]], [[5], [2]]];
const decays = [0.05, 0];
const lrs = [0.1, 0.1, 0.05, 0.02, 0.02, 0.01];

function reference(config: Case): Reference {
  const full = { ...config, steps: lrs.length, seed: 7, lrs, groups: shapes.map((s, i) => ({ shapes: s, weight_decay: decays[i] })) };
  return JSON.parse(runPython('optim_reference.py', [JSON.stringify(full)])) as Reference;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function replay(config: Case): { ref: Reference; params: torch.Tensor[]; optimizer: Optimizer } {
  const ref = reference(config);
  let flat = 0;
  const groups = shapes.map((group, g) => ({
    params: group.map((shape) => torch.tensor(new Float32Array(ref.initial[flat++]), { shape }).requiresGrad_()),
    weightDecay: decays[g],
  }));
  const params = groups.flatMap((g) => g.params);
  const rmsprop = { lr: lrs[0], alpha: config.alpha, eps: config.eps, momentum: config.momentum, centered: config.centered };
  const optimizers: Record<Case['optimizer'], () => Optimizer> = {
    sgd: () => new SGD(groups, { lr: lrs[0], momentum: config.momentum, dampening: config.dampening, nesterov: config.nesterov }),
    adamw: () => new AdamW(groups, { lr: lrs[0], betas: config.betas, eps: config.eps }),
    rmsprop: () => new RMSprop(groups, rmsprop),
    rmsproptf: () => new RMSpropTF(groups, rmsprop),
    lamb: () => new Lamb(groups, { lr: lrs[0], betas: config.betas, eps: config.eps, maxGradNorm: config.max_grad_norm, trustClip: config.trust_clip, alwaysAdapt: config.always_adapt }),
  };
  const optimizer = optimizers[config.optimizer]();
  ref.grads.forEach((stepGrads, step) => {
    optimizer.setLr(lrs[step]);
    if (config.momentums) optimizer.setMomentum(config.momentums[step]);
    params.forEach((p, i) => {
      const grad = torch.tensor(new Float32Array(stepGrads[i]), { shape: p.shape });
      p.grad = grad;
      grad.dispose();
    });
    optimizer.step();
    optimizer.zeroGrad();
  });
  return { ref, params, optimizer };
}

function assertMatches(config: Case, tolerance: number): void {
  const { ref, params, optimizer } = replay(config);
  params.forEach((p, i) => {
    const diff = maxAbsDiff(p.toTypedArray() as Float32Array, ref.final[i]);
    assert.ok(diff <= tolerance, `parameter ${i} differs from torch.optim by ${diff}`);
  });
  const state = optimizer.stateDict();
  assert.deepEqual(Object.keys(state.tensors).sort(), Object.keys(ref.state).sort());
  for (const [key, values] of Object.entries(ref.state)) {
    const diff = maxAbsDiff(state.tensors[key].toTypedArray() as Float32Array, values);
    assert.ok(diff <= tolerance, `${key} differs from torch.optim by ${diff}`);
  }
  optimizer.disposeState();
  torch.dispose(params);
}

describe('optimisers against torch.optim', () => {
  it('SGD without momentum', () => assertMatches({ optimizer: 'sgd' }, 1e-6));
  it('SGD with momentum and dampening', () => assertMatches({ optimizer: 'sgd', momentum: 0.9, dampening: 0.1 }, 1e-6));
  it('SGD with Nesterov momentum', () => assertMatches({ optimizer: 'sgd', momentum: 0.9, nesterov: true }, 1e-6));
  it('AdamW', () => assertMatches({ optimizer: 'adamw' }, 1e-5));
  it('AdamW with other betas and eps', () => assertMatches({ optimizer: 'adamw', betas: [0.8, 0.95], eps: 1e-6 }, 1e-5));
  const cycled = [0.95, 0.93, 0.9, 0.87, 0.85, 0.9];
  it('SGD and AdamW with the momentum changed every step (OneCycle)', () => {
    assertMatches({ optimizer: 'sgd', momentum: 0.9, momentums: cycled }, 1e-6);
    assertMatches({ optimizer: 'adamw', momentums: cycled }, 1e-5);
  });
  // The same libtorch kernels in the same order: RMSprop's updates are bit-exact.
  it('RMSprop', () => assertMatches({ optimizer: 'rmsprop' }, 0));
  it('RMSprop with momentum, centred, other alpha and eps', () => assertMatches({ optimizer: 'rmsprop', momentum: 0.9, centered: true, alpha: 0.9, eps: 1e-3 }, 0));
  it("timm's RMSpropTF", () => assertMatches({ optimizer: 'rmsproptf' }, 0));
  it("timm's RMSpropTF with momentum, centred", () => assertMatches({ optimizer: 'rmsproptf', momentum: 0.9, centered: true, eps: 1e-3 }, 0));
  it("timm's LAMB (global gradient clipping active)", () => assertMatches({ optimizer: 'lamb' }, 1e-5));
  it("timm's LAMB without clipping, trust clip, adapting undecayed parameters, cycled beta1", () =>
    assertMatches({ optimizer: 'lamb', max_grad_norm: 1000, trust_clip: true, always_adapt: true, betas: [0.85, 0.99], momentums: cycled }, 1e-5));
});

describe('optimizer state', () => {
  it('a state saved and loaded continues exactly as the original', () => {
    const make = () => torch.tidy(() => [torch.arange(0, 6).float().reshape(2, 3).requiresGrad_().keep(), torch.ones([3]).requiresGrad_().keep()]);
    const gradFor = (step: number, p: torch.Tensor) => torch.tidy(() => torch.full(p.shape, Math.sin(step + p.numel)).keep());
    const run = (params: torch.Tensor[], optimizer: Optimizer, from: number, to: number) => {
      for (let step = from; step < to; step++) {
        for (const p of params) {
          const g = gradFor(step, p);
          p.grad = g;
          g.dispose();
        }
        optimizer.step();
      }
    };
    const makers = {
      sgd: (params: torch.Tensor[]) => new SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 1e-2 }),
      adamw: (params: torch.Tensor[]) => new AdamW(params, { lr: 0.01 }),
      rmsprop: (params: torch.Tensor[]) => new RMSprop(params, { lr: 0.01, momentum: 0.9, centered: true }),
      rmsproptf: (params: torch.Tensor[]) => new RMSpropTF(params, { lr: 0.01, momentum: 0.9 }),
      lamb: (params: torch.Tensor[]) => new Lamb(params, { lr: 0.01 }),
    };
    for (const [kind, create] of Object.entries(makers)) {
      const straight = make();
      const a = create(straight);
      run(straight, a, 0, 6);

      const first = make();
      const b = create(first);
      run(first, b, 0, 3);
      const saved = b.stateDict();
      const resumed = make();
      resumed.forEach((p, i) => torch.noGrad(() => p.copy_(first[i])));
      const c = create(resumed);
      c.loadStateDict(saved);
      run(resumed, c, 3, 6);
      resumed.forEach((p, i) => assert.deepEqual(p.toTypedArray(), straight[i].toTypedArray(), `${kind} parameter ${i}`));
      for (const o of [a, b, c]) o.disposeState();
      torch.dispose([straight, first, resumed]);
    }
  });

  it('loading a state of another optimizer or shape is an error', () => {
    const p = torch.zeros([2]).requiresGrad_();
    const sgd = new SGD([p], { lr: 0.1, momentum: 0.9 });
    const adamw = new AdamW([p], { lr: 0.1 });
    assert.throws(() => adamw.loadStateDict(sgd.stateDict()), /state is for 'sgd'/);
    const q = torch.zeros([3]).requiresGrad_();
    const other = new SGD([q], { lr: 0.1, momentum: 0.9 });
    const g = torch.ones([3]);
    q.grad = g;
    other.step();
    assert.throws(() => sgd.loadStateDict(other.stateDict()), /shape \[3\].*\[2\]/);
    other.disposeState();
    torch.dispose([p, q, g]);
  });

  it('rejects bad settings', () => {
    const p = torch.zeros([2]).requiresGrad_();
    assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), /Nesterov/);
    assert.throws(() => new SGD([p], { lr: -1 }), /learning rate/);
    assert.throws(() => new SGD([], { lr: 0.1 }), /no parameters/);
    assert.throws(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 }), /more than one parameter group/);
    p.dispose();
  });
});

describe('parameter groups and clipping', () => {
  it('paramGroupsFor leaves BatchNorm and bias parameters undecayed when asked', () => {
    const model = new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.BatchNorm2d(4), new nn.Flatten(), new nn.Linear(4, 2));
    const groups = paramGroupsFor(model, { weightDecay: 5e-4, noDecayOnNormAndBias: true });
    assert.equal(groups.length, 2);
    assert.deepEqual(groups[0].params.map((p) => p.ndim), [4, 2]);
    assert.equal(groups[1].weightDecay, 0);
    assert.equal(groups[1].params.length, 4); // conv bias, BN weight and bias, linear bias
    assert.equal(paramGroupsFor(model, { weightDecay: 5e-4 }).length, 1);
    model.dispose();
  });

  it('clipGradNorm scales gradients to the norm and returns the norm before', () => {
    const a = torch.zeros([2]).requiresGrad_();
    const b = torch.zeros([1]).requiresGrad_();
    const [ga, gb] = [torch.tensor([3, 0], { dtype: 'float32' }), torch.tensor([4], { dtype: 'float32' })];
    a.grad = ga;
    b.grad = gb;
    assert.ok(Math.abs(clipGradNorm([a, b], 1) - 5) < 1e-5);
    const clipped = torch.tidy(() => [...(a.grad!.toTypedArray() as Float32Array), ...(b.grad!.toTypedArray() as Float32Array)]);
    assert.ok(maxAbsDiff(clipped, [0.6, 0, 0.8]) < 1e-5);
    assert.ok(Math.abs(clipGradNorm([a, b], 10) - 1) < 1e-5, 'a norm under the limit is left alone');
    torch.dispose([a, b, ga, gb]);
  });
});
