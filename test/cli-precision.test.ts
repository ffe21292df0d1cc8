// --precision bf16 on the commands that run a model: bench reports the checked bf16
// plan with the CPU's flags and oneDNN's instruction set; run writes bf16 outputs close
// to the float32 ones.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { after, before, describe, it } from 'node:test';
import * as io from '../src/io/index.js';
import { createModel } from '../src/models/index.js';
import { randn } from '../src/torch/creation.js';
import { manualSeed } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import { relativeDifference } from '../src/tools/bench.js';
import { cpuReport } from '../src/tools/cpu-info.js';
import { BF16_TOLERANCE } from '../src/tools/inference-modes.js';
import { resnets } from './helpers/cli.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-precision-');
after(() => temp.cleanup());
const file = (name: string) => join(temp.path, name);

describe('--precision bf16', () => {
  const weights = file('resnet18.safetensors');
  const input = file('x.npy');
  const image = file('picture.png');

  before(async () => {
    const pixels = Buffer.alloc(40 * 30 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31 + (i >> 5)) % 256;
    await sharp(pixels, { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(image);
    manualSeed(11);
    const model = createModel('resnet18', { numClasses: 5 });
    io.save(model.stateDict(), weights);
    model.dispose();
    const x = randn([2, 3, 32, 32]);
    io.save(x, input);
    x.dispose();
  });

  it('bench runs the bf16 plan, checked against float32, and names the CPU flags and the ISA oneDNN dispatched', async () => {
    const { code, stdout, stderr } = await resnets('bench', 'resnet18', '--size', '32', '--batch-size', '2', '--warmup', '1', '--runs', '2', '--threads', '1', '--precision', 'bf16', '--json');
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as { mode: string; precision: string; difference: number; kernels: string; cpu: { dnnlIsa: string; flags: string[]; nativeBf16: boolean } };
    assert.equal(report.mode, 'fused+dnnl+bf16');
    assert.equal(report.precision, 'bf16');
    assert.ok(report.difference > 0 && report.difference <= BF16_TOLERANCE, String(report.difference));
    assert.ok(report.cpu.dnnlIsa.length > 0);
    if (report.cpu.nativeBf16) assert.match(report.kernels, /bf16/);
    else assert.match(stderr, /bfloat16 runs emulated and will be slower than float32/);
  });

  it('bench --conv-algorithm tuned reports which plan it kept and by how much, and a second run reads the choices back', async () => {
    const cache = file('tuning.json');
    const previous = process.env.RESNETS_TUNING_CACHE;
    process.env.RESNETS_TUNING_CACHE = cache;
    try {
      const bench = async () => {
        const { code, stdout, stderr } = await resnets('bench', 'resnet18', '--size', '32', '--batch-size', '2', '--warmup', '0', '--runs', '1', '--threads', '1', '--conv-algorithm', 'tuned');
        assert.equal(code, 0, stderr);
        assert.match(stdout, /mode fused\+dnnl\+tuned /);
        const note = /; (tuned|winograd|direct) plan kept(?:, ([\d.]+)x the direct plan)? \(best forward ms: ([^;)]+)(; measured before)?\); (.*)$/m.exec(stdout);
        assert.ok(note, stdout);
        const [, kept, speedup, timesText] = note;
        const times = new Map(timesText.split(', ').map((entry) => entry.split(' ')).map(([kind, ms]) => [kind, Number(ms)]));
        // resnet18 has 3x3 stride-1 convolutions, so all three plans are weighed where oneDNN has Winograd kernels (AVX-512).
        assert.deepEqual([...times.keys()], cpuReport().dnnlIsa.startsWith('avx512') ? ['tuned', 'winograd', 'direct'] : ['tuned', 'direct'], note[0]);
        assert.equal(times.get(kept), Math.min(...times.values()), `the fastest plan is kept: ${note[0]}`);
        if (kept === 'direct') assert.equal(speedup, undefined, note[0]);
        else assert.ok(Math.abs(Number(speedup) - times.get('direct')! / times.get(kept)!) < 0.02 + 0.01 * Number(speedup), note[0]);
        return { measuredBefore: note[4] !== undefined, timing: note[5], verdict: note.slice(1, 4) };
      };
      const first = await bench();
      assert.equal(first.measuredBefore, false);
      const timed = /^(\d+) of 20 convolutions timed now, saved to (.+)$/.exec(first.timing);
      assert.ok(timed && Number(timed[1]) > 0 && Number(timed[1]) < 20, first.timing);
      assert.equal(timed[2], cache);
      const second = await bench();
      assert.equal(second.measuredBefore, true);
      assert.equal(second.timing, `every kernel choice read from ${cache}`);
      assert.deepEqual(second.verdict, first.verdict, 'the decision measured before is the one reported');
    } finally {
      if (previous === undefined) delete process.env.RESNETS_TUNING_CACHE;
      else process.env.RESNETS_TUNING_CACHE = previous;
    }
  });

  it('bench refuses bf16 outside the oneDNN plan', async () => {
    const { code, stderr } = await resnets('bench', 'resnet18', '--size', '32', '--batch-size', '1', '--runs', '1', '--mkldnn', '--precision', 'bf16');
    assert.equal(code, 1);
    assert.match(stderr, /--precision bf16 run in the oneDNN plan \(--dnnl\) only/);
  });

  it('run writes outputs within the bf16 tolerance of the float32 run', async () => {
    const [fp32, bf16] = [file('y32.npy'), file('y16.npy')];
    for (const [precision, output] of [['fp32', fp32], ['bf16', bf16]]) {
      const { code, stderr } = await resnets('run', 'resnet18', '--weights', weights, '--input', input, '--output', output, '--precision', precision);
      assert.equal(code, 0, stderr);
    }
    const difference = tidy(() => relativeDifference(io.loadNpy(bf16), io.loadNpy(fp32)));
    assert.ok(difference > 0 && difference <= BF16_TOLERANCE, String(difference));
  });

  it('predict classifies with the bf16 plan; probabilities close to float32', async () => {
    const answers = [];
    for (const precision of ['fp32', 'bf16']) {
      const { code, stdout, stderr } = await resnets('predict', 'resnet18', '--weights', weights, '--size', '32', '--top', '5', '--json', '--precision', precision, image);
      assert.equal(code, 0, stderr);
      answers.push((JSON.parse(stdout) as { predictions: { index: number; probability: number }[] }[])[0].predictions);
    }
    const [fp32, bf16] = answers;
    assert.equal(bf16.length, 5);
    for (const { index, probability } of bf16) {
      const match = fp32.find((p) => p.index === index);
      if (match) assert.ok(Math.abs(match.probability - probability) < 0.05, `class ${index}: ${probability} vs ${match.probability}`);
    }
  });
});
