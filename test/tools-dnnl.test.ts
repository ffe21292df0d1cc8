// The compiled oneDNN plan (tools/dnnl/, native/dnnl_*.cc): one model of each family
// stays within 1e-4 of the plain eval model, the conv-norm-act units and the residual
// sum fuse into the convolutions, bfloat16 agrees with float32 within its tolerance and
// on the top-1 class, unsupported ops are named with their module.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PReLU } from '../src/nn/activation.js';
import { Conv2d, Module, Sequential } from '../src/nn/index.js';
import { randn } from '../src/torch/creation.js';
import { memory, noGrad } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import type { Tensor } from '../src/torch/tensor.js';
import { relativeDifference } from '../src/tools/bench.js';
import { cpuReport } from '../src/tools/cpu-info.js';
import { DnnlInference } from '../src/tools/dnnl/inference.js';
import { BF16_TOLERANCE, checkedInferenceModel, prepareForInference } from '../src/tools/inference-modes.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';
import { tempDir } from './helpers/python.js';
import { trainedLookingModel, type ImageModel } from './helpers/trained-looking.js';

/** The plain eval output and the plan's on one random batch. */
function outputs(model: ImageModel, shape: number[], options: ConstructorParameters<typeof DnnlInference>[1] = {}): { plain: Tensor; plan: Tensor; compiled: DnnlInference } {
  model.eval();
  const input = randn(shape);
  const plain = noGrad(() => model.call(input));
  const compiled = new DnnlInference(model, options);
  const plan = noGrad(() => compiled.call(input));
  input.dispose();
  return { plain, plan, compiled };
}

// Tuned choices go to a file of this run's own, not the user's cache.
const temp = tempDir('resnets-dnnl-');
const tuningEnv = { RESNETS_TUNING_CACHE: process.env.RESNETS_TUNING_CACHE, RESNETS_HOME: process.env.RESNETS_HOME };
process.env.RESNETS_TUNING_CACHE = join(temp.path, 'tuning.json');
after(() => {
  for (const [name, value] of Object.entries(tuningEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  temp.cleanup();
});

describe('the oneDNN plan', () => {
  const families: [name: string, options: Record<string, unknown>, size: number][] = [
    ['resnet18', { numClasses: 7 }, 32],
    ['seresnet18', { numClasses: 7 }, 32],
    ['densenet_bc_100_12', { numClasses: 10 }, 16],
    ['resnetv2_18', { numClasses: 7 }, 32],
    ['resnet20', { numClasses: 10 }, 16],
  ];
  for (const [name, options, size] of families) {
    it(`${name}: outputs within 1e-4 of the plain eval model, with direct and Winograd kernels, and no step on oneDNN's reference kernels`, () => {
      for (const convAlgorithm of ['direct', 'winograd'] as const) {
        const { plain, plan, compiled } = outputs(trainedLookingModel(name, options), [2, 3, size, size], { convAlgorithm });
        assert.deepEqual(plan.shape, plain.shape);
        const difference = relativeDifference(plan, plain);
        assert.ok(difference <= 1e-4, `${convAlgorithm}: relative difference ${difference}`);
        assert.ok(difference > 0, 'folding changes the rounding, so a plan that ran the plain model would show');
        // A reference kernel is a plain loop, 10 to 100 times slower (seresnet18's SE gates, resnet20's
        // zero-filled shortcut and DenseNet's concatenations took it when their operands' formats differed).
        const steps = compiled.describe([2, 3, size, size]).steps;
        assert.deepEqual(steps.filter((s) => s.impl.startsWith('ref')).map((s) => `${s.name}: ${s.impl}`), [], convAlgorithm);
        compiled.dispose();
        plain.dispose();
        plan.dispose();
      }
    });
  }

  it('fuses each BatchNorm, ReLU and residual sum into its convolution: one step per convolution and pool', () => {
    const model = trainedLookingModel('resnet18');
    const convs = [...model.namedModules()].filter(([, m]) => m instanceof Conv2d).length;
    const compiled = new DnnlInference(model);
    const { steps } = compiled.describe([1, 3, 32, 32]);
    // conv1's input reorder, 20 convolutions, max pool, average pool, fc, the output reorder.
    assert.equal(convs, 20);
    assert.deepEqual(steps.map((s) => s.name).filter((n) => !/^conv1|^layer\d\.\d\.(conv\d|downsample\.0)$|^maxpool$|^avgpool$|^fc$|^output \(reorder out\)$/.test(n)), []);
    assert.equal(steps.length, 1 + convs + 3 + 1);
    compiled.dispose();
  });

  it('SE multiplies in one broadcast binary step that also takes the residual sum and ReLU', () => {
    const compiled = new DnnlInference(trainedLookingModel('seresnet18'));
    const steps = compiled.describe([1, 3, 32, 32]).steps.filter((s) => s.name === 'layer1.0.se');
    // The global mean (a pool) and the gate multiplication; no separate add or ReLU.
    assert.equal(steps.length, 2);
    assert.ok(!compiled.describe([1, 3, 32, 32]).steps.some((s) => s.name === 'layer1.0'), 'no standalone residual add');
    compiled.dispose();
  });

  it('a plan per input shape; the old signature of prepareForInference still applies the other modes', () => {
    const model = trainedLookingModel('resnet18');
    const compiled = prepareForInference(model, { precision: 'fp32' });
    assert.ok(compiled instanceof DnnlInference);
    for (const batch of [1, 3]) {
      const y: Tensor = tidy(() => noGrad(() => compiled.call(randn([batch, 3, 32, 32]))).keep());
      assert.deepEqual(y.shape, [batch, 7]);
      y.dispose();
    }
    compiled.dispose();
    const mkldnn = prepareForInference(trainedLookingModel('resnet18'), { fuse: true, layout: 'mkldnn' });
    assert.ok(!(mkldnn instanceof DnnlInference));
    mkldnn.dispose();
    assert.throws(() => prepareForInference(trainedLookingModel('resnet18'), { layout: 'mkldnn', precision: 'bf16' }), /precision 'bf16' runs in the compiled oneDNN plan only/);
  });

  it('Winograd 3x3 convolutions, where oneDNN has them, are checked like any mode', () => {
    const model = trainedLookingModel('resnet18');
    const checked = checkedInferenceModel(model, { fuse: true, layout: 'dnnl', convAlgorithm: 'winograd' }, [2, 3, 32, 32]);
    const steps = (checked.model as DnnlInference).describe([2, 3, 32, 32]).steps;
    const winograd = steps.filter((s) => s.impl.includes('wino')).length;
    if (cpuReport().dnnlIsa.startsWith('avx512')) assert.ok(winograd > 0, 'oneDNN 2.6 has Winograd kernels for AVX-512');
    // Winograd's transforms round more than direct convolution: the check measures by how much.
    assert.ok(Number.isFinite(checked.difference) && checked.difference < 1e-2, String(checked.difference));
    checked.model.dispose();
  });

  it('tuned: each convolution gets the fastest kernel timed while building, and the fastest whole plan is kept (tuned, Winograd or direct)', () => {
    for (const precision of ['fp32', 'bf16'] as const) {
      const model = trainedLookingModel('resnet18');
      const checked = checkedInferenceModel(model, { fuse: true, layout: 'dnnl', precision, convAlgorithm: 'tuned' }, [2, 3, 32, 32]);
      const plan = (checked.model as DnnlInference).describe([2, 3, 32, 32]);
      assert.ok(plan.tuning, 'the tuning is reported');
      const { timesMs, kept } = plan.tuning;
      // Winograd is float32's only (lower.ts leaves bf16 convolutions direct), and oneDNN 2.6 has its kernels for AVX-512 only.
      const winograd = precision === 'fp32' && cpuReport().dnnlIsa.startsWith('avx512');
      assert.deepEqual(Object.keys(timesMs), winograd ? ['tuned', 'winograd', 'direct'] : ['tuned', 'direct']);
      const times = Object.values(timesMs);
      assert.ok(times.every((ms) => ms > 0 && Number.isFinite(ms)), JSON.stringify(timesMs));
      assert.equal(timesMs[kept], Math.min(...times), JSON.stringify(plan.tuning));
      const winogradSteps = plan.steps.filter((s) => s.impl.includes('wino')).length;
      if (kept === 'winograd' && cpuReport().dnnlIsa.startsWith('avx512')) assert.ok(winogradSteps > 0, 'the Winograd plan runs Winograd kernels');
      if (kept === 'direct') assert.equal(winogradSteps, 0);
      const convolutions = plan.steps.filter((s) => /conv|downsample\.0/.test(s.name) && !/\((reorder in|sum operand copy)\)$/.test(s.name));
      assert.equal(convolutions.length, 20);
      // Both plans keep their names; only the tuned one says how many kernels each convolution chose among.
      assert.equal(convolutions.every((s) => /\(tuned (before, )?of \d+\)$/.test(s.name)), kept === 'tuned');
      const tolerance = precision === 'bf16' ? BF16_TOLERANCE : 1e-2;
      assert.ok(Number.isFinite(checked.difference) && checked.difference < tolerance, `${precision}: ${checked.difference}`);
      checked.model.dispose();
    }
  });

  it('tuned choices are kept in the tuning cache: a later build times nothing and gets the same kernels', () => {
    const shape = [1, 3, 16, 16];
    const kernels = (compiled: DnnlInference) => compiled.describe(shape).steps.map((s) => `${s.name.replace(/ \(tuned.*\)$/, '')}: ${s.impl}`);
    const build = (file: string | undefined, precision: 'fp32' | 'bf16' = 'fp32') => {
      if (file === undefined) delete process.env.RESNETS_TUNING_CACHE;
      else process.env.RESNETS_TUNING_CACHE = file;
      const compiled = new DnnlInference(trainedLookingModel('resnet20', { numClasses: 10 }), { convAlgorithm: 'tuned', precision });
      const tuning = compiled.describe(shape).tuning!;
      const steps = kernels(compiled);
      compiled.model.dispose();
      compiled.dispose();
      return { tuning, steps };
    };
    const restore = { cache: process.env.RESNETS_TUNING_CACHE, home: process.env.RESNETS_HOME };
    try {
      const first = join(temp.path, 'first.json');
      const measured = build(first);
      assert.equal(measured.tuning.convolutions, 19);
      assert.ok(measured.tuning.timed > 0 && measured.tuning.timed < 19, `${measured.tuning.timed}: repeated convolutions are timed once`);
      assert.equal(measured.tuning.decisionCached, false);
      assert.equal(measured.tuning.cacheFile, first);
      const saved = JSON.parse(readFileSync(first, 'utf8')) as { cpu: string; convolutions: Record<string, string>; plans: Record<string, unknown> };
      assert.equal(Object.keys(saved.convolutions).length, measured.tuning.timed);
      assert.equal(Object.keys(saved.plans).length, 1);

      // Another process's view: the same file under a new name, read from disk.
      const second = join(temp.path, 'second.json');
      copyFileSync(first, second);
      const reread = build(second);
      assert.equal(reread.tuning.timed, 0);
      assert.equal(reread.tuning.decisionCached, true);
      assert.deepEqual([reread.tuning.kept, reread.tuning.timesMs], [measured.tuning.kept, measured.tuning.timesMs]);
      assert.deepEqual(reread.steps, measured.steps);

      // A bf16 plan's choices are its own: they leave the float32 ones in place.
      assert.ok(build(second, 'bf16').tuning.timed > 0);
      assert.equal(build(second).tuning.timed, 0);
      assert.equal(build(second, 'bf16').tuning.timed, 0);

      // Another CPU's file, or a damaged one, is not used, and is replaced by this CPU's.
      for (const [name, content] of [
        ['foreign.json', { ...saved, cpu: 'another CPU' }],
        ['damaged.json', { ...saved, convolutions: null, plans: [] }],
      ] as const) {
        const file = join(temp.path, name);
        writeFileSync(file, JSON.stringify(content));
        assert.ok(build(file).tuning.timed > 0, name);
        const rewritten = JSON.parse(readFileSync(file, 'utf8')) as typeof saved;
        assert.equal(rewritten.cpu, saved.cpu, name);
        assert.ok(Object.keys(rewritten.convolutions).length > 0 && Object.keys(rewritten.plans).length === 1, name);
      }

      // A file of format 1 (decisions weighed the tuned and direct plans only): its kernel choices hold, its decisions are made again.
      const older = join(temp.path, 'format1.json');
      const oldDecisions = Object.fromEntries(Object.keys(saved.plans).map((key) => [key, { kept: 'direct', tunedMs: 2, directMs: 1 }]));
      writeFileSync(older, JSON.stringify({ ...saved, format: 1, plans: oldDecisions }));
      const upgraded = build(older);
      assert.equal(upgraded.tuning.timed, 0, 'the kernel choices are read');
      assert.equal(upgraded.tuning.decisionCached, false, 'the decision is measured again');
      const rewritten = JSON.parse(readFileSync(older, 'utf8')) as { format: number; plans: Record<string, { kept: string; timesMs: Record<string, number> }> };
      assert.equal(rewritten.format, 2);
      assert.deepEqual(Object.values(rewritten.plans), [{ kept: upgraded.tuning.kept, timesMs: upgraded.tuning.timesMs }], 'the decision made again replaces the old one');

      // By default the file lives in $RESNETS_HOME/tuning, one per CPU model; 'off' keeps the choices in the process.
      process.env.RESNETS_HOME = join(temp.path, 'home');
      const fallback = build(undefined);
      assert.match(fallback.tuning.cacheFile ?? '', /\/home\/tuning\/dnnl-[\d.]+-\w+-[0-9a-f]{8}\.json$/);
      assert.ok(existsSync(fallback.tuning.cacheFile!));
      process.env.RESNETS_HOME = join(temp.path, 'home-off');
      const off = build('off');
      assert.equal(off.tuning.cacheFile, undefined);
      assert.equal(existsSync(join(temp.path, 'home-off')), false);
    } finally {
      for (const [name, value] of [['RESNETS_TUNING_CACHE', restore.cache], ['RESNETS_HOME', restore.home]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('frees the plans\' weights and buffers at once, not at garbage collection', () => {
    const compiled = new DnnlInference(trainedLookingModel('resnet18'));
    const input = randn([2, 3, 32, 32]);
    // Earlier tests' garbage, freed by a collection during this one, would hide what the plan adds.
    liveTensorsAfterCollection();
    const before = memory().nativeBytes;
    const forward = () => tidy(() => noGrad(() => compiled.call(input)).keep());
    const first = forward();
    const planBytes = compiled.describe([2, 3, 32, 32]).constantBytes;
    assert.ok(planBytes > 40e6, 'resnet18\'s weights, reordered');
    assert.ok(memory().nativeBytes - before >= planBytes, 'the plan\'s weights are counted');
    compiled.releasePlans();
    assert.ok(memory().nativeBytes - before < planBytes / 10, `${memory().nativeBytes - before} bytes left of ${planBytes}`);
    const second = forward();
    assert.ok(second.allclose(first, 0, 0), 'the model compiles again, to the same outputs');
    for (const t of [input, first, second]) t.dispose();
    compiled.dispose();
  });

  it('refuses non-finite inputs as the oneDNN-layout mode does', () => {
    const compiled = new DnnlInference(trainedLookingModel('resnet18'));
    const x = randn([1, 3, 32, 32]);
    x.view([-1]).narrow(0, 5, 1).fill_(Number.NaN);
    assert.throws(() => noGrad(() => compiled.call(x)), /1 NaN or infinite value; the oneDNN plan does not propagate them/);
    x.dispose();
    compiled.dispose();
  });

  it('names an unsupported op and the module it ran in', () => {
    class Centering extends Module {
      forward(input: Tensor): Tensor {
        return input.sub(input.mean([2, 3], true));
      }
    }
    const model = new Sequential(new Conv2d(3, 4, 3), new Centering()) as unknown as ImageModel;
    const compiled = new DnnlInference(model);
    assert.throws(() => noGrad(() => compiled.call(randn([1, 3, 8, 8]))), /dnnl plan: op 'aten::sub' in module '1' \(Centering\) is not supported/);
    compiled.dispose();
    // A flattened [N, C*H*W] view of a blocked activation is read by a linear layer only.
    class FlattenThenScale extends Module {
      forward(input: Tensor): Tensor {
        return input.flatten(1).relu();
      }
    }
    const flat = new DnnlInference(new Sequential(new Conv2d(3, 4, 3), new FlattenThenScale()) as unknown as ImageModel);
    assert.throws(() => noGrad(() => flat.call(randn([1, 3, 8, 8]))), /op 'aten::relu' in module '1' \(FlattenThenScale\) is not supported \(it reads a flattened view of a 4-D activation\)/);
    flat.dispose();
  });
});

describe('the oneDNN plan of the InsightFace families (input scaling, PReLU, BatchNorm around convolutions, BatchNorm1d features)', () => {
  /** A face model whose PReLU slopes differ by channel, as trained ones do (they start all 0.25). */
  function faceModel(name: string): ImageModel {
    const model = trainedLookingModel(name, {});
    noGrad(() => {
      for (const [, module] of model.namedModules()) if (module instanceof PReLU) module.weight.copy_(tidy(() => randn(module.weight.shape).mul(0.2).add(0.25)));
    });
    return model;
  }
  for (const name of ['fresnet18', 'iresnet18']) {
    it(`${name}: float32 within 1e-4 of the plain eval model, bfloat16 within its tolerance`, () => {
      const model = faceModel(name);
      const { plain, plan, compiled } = outputs(model, [1, 3, 112, 112]);
      assert.deepEqual(plan.shape, [1, 512]);
      const difference = relativeDifference(plan, plain);
      assert.ok(difference <= 1e-4 && difference > 0, `relative difference ${difference}`);
      const prelus = [...model.namedModules()].filter(([, m]) => m instanceof PReLU).map(([path]) => path);
      const steps = compiled.describe([1, 3, 112, 112]).steps.map((s) => s.name);
      assert.ok(prelus.length > 0 && prelus.every((path) => steps.filter((n) => n === path).length === 1), 'one step per PReLU');
      const bf16 = outputs(model, [1, 3, 112, 112], { precision: 'bf16' });
      const bf16Difference = relativeDifference(bf16.plan, bf16.plain);
      assert.ok(bf16Difference <= BF16_TOLERANCE && bf16Difference > 1e-5, `bf16 relative difference ${bf16Difference}`);
      for (const t of [plain, plan, bf16.plain, bf16.plan]) t.dispose();
      compiled.dispose();
      bf16.compiled.dispose();
    });
  }

  it('the input scaling (x - 127.5) * 0.0078125 is one affine step', () => {
    const compiled = new DnnlInference(faceModel('fresnet18'));
    const steps = compiled.describe([1, 3, 112, 112]).steps;
    assert.equal(steps.filter((s) => s.name === '').length, 1, JSON.stringify(steps.slice(0, 3)));
    compiled.dispose();
  });
});

describe('the oneDNN plan in bfloat16', () => {
  for (const [name, options, size] of [
    ['resnet18', { numClasses: 7 }, 32],
    ['densenet_bc_100_12', { numClasses: 10 }, 16],
  ] as const) {
    it(`${name}: within the bf16 tolerance of float32, the same top-1 class where float32 is not near a tie`, () => {
      const model = trainedLookingModel(name, options);
      model.eval();
      const input = randn([16, 3, size, size]);
      const plain = noGrad(() => model.call(input));
      const compiled = prepareForInference(model, { precision: 'bf16' }) as DnnlInference;
      assert.equal(compiled.options.precision, 'bf16');
      const bf16 = noGrad(() => compiled.call(input));
      const difference = relativeDifference(bf16, plain);
      assert.ok(difference <= BF16_TOLERANCE, `relative difference ${difference}`);
      assert.ok(difference > 1e-5, `bfloat16 rounds far more than float32 (${difference}): the plan must really run in bf16`);
      // Rows whose two best float32 scores are further apart than bf16's error must keep their class.
      const [confident, agreement] = tidy(() => {
        const scale = plain.abs().max().item();
        const top2 = plain.topk(2, 1).values;
        const margin = top2.narrow(1, 0, 1).sub(top2.narrow(1, 1, 1)).view([-1]);
        const rows = margin.gt(2 * difference * scale);
        const same = bf16.argmax(1).eq(plain.argmax(1));
        return [rows.float().sum().item(), same.logicalAnd(rows).float().sum().item() / Math.max(rows.float().sum().item(), 1)];
      });
      assert.ok(confident > 0, 'some rows are not near a tie');
      assert.equal(agreement, 1);
      for (const t of [input, plain, bf16]) t.dispose();
      compiled.dispose();
    });
  }

  it('bench reports whether this CPU runs bf16 natively', () => {
    const report = cpuReport();
    const hasBf16 = report.flags.includes('avx512_bf16') || report.flags.includes('amx_bf16');
    assert.equal(report.nativeBf16, hasBf16 && report.dnnlIsa !== 'avx512_core' && report.dnnlIsa !== 'avx2');
  });
});
