// The roofline helpers: a matmul peak measured through our torch API, FLOPs per image from
// summary's MACs (torchvision's resnet18: 1.814 GMACs at 224x224), peaks read from a
// roofline file only on the CPU that measured them, and `resnets bench --peak` printing
// the fraction of the peak its images/s make.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as models from '../src/models/index.js';
import * as tools from '../src/tools/index.js';
import * as torch from '../src/torch/index.js';
import { resnets } from './helpers/cli.js';
import { tempDir } from './helpers/python.js';

const dir = tempDir('resnets-roofline-');
after(() => dir.cleanup());

function rooflineFile(name: string, cpu: string, peaks: Partial<tools.MatmulPeak>[]): string {
  const path = join(dir.path, name);
  writeFileSync(path, JSON.stringify({ cpu, measuredAt: '2026-12-02T10:00:00Z', peaks }));
  return path;
}

describe('roofline', () => {
  it('measures float32 and bfloat16 matmul peaks at the current thread count', () => {
    for (const dtype of tools.PEAK_DTYPES) {
      const peak = tools.measureMatmulPeak(dtype, { size: 128, runs: 3 });
      assert.equal(peak.dtype, dtype);
      assert.equal(peak.threads, torch.getNumThreads());
      assert.equal(peak.gflopsPerRun.length, 3);
      assert.ok(peak.gflopsPerRun.every((g) => Number.isFinite(g) && g > 0), peak.gflopsPerRun.join(', '));
      assert.equal(peak.peakGflops, Math.max(...peak.gflopsPerRun));
      assert.ok(peak.medianGflops <= peak.peakGflops);
    }
    assert.throws(() => tools.measureMatmulPeak('float32', { size: 0 }), /size must be a positive integer, got 0/);
  });

  it("FLOPs per image are twice summary's MACs: resnet18 3.628 GFLOP at 224x224", () => {
    const model = models.createModel('resnet18', { init: false });
    try {
      const flops = tools.flopsPerImage(model, [3, 224, 224]);
      assert.ok(Math.abs(flops / (2 * 1.814e9) - 1) < 1e-3, `${flops}`);
      assert.ok(Math.abs(tools.fractionOfPeak(10, flops, 100) - (10 * flops) / 100e9) < 1e-12);
    } finally {
      model.dispose();
    }
  });

  it('--peak takes GFLOP/s or a roofline file of this CPU with a peak at these threads', () => {
    assert.equal(tools.resolvePeak('120.5', { threads: 2 }).gflops, 120.5);
    const here = rooflineFile('here.json', tools.cpuModel(), [
      { dtype: 'float32', threads: 1, size: 2048, peakGflops: 80 },
      { dtype: 'float32', threads: 2, size: 2048, peakGflops: 150 },
      { dtype: 'bfloat16', threads: 2, size: 2048, peakGflops: 900 },
    ]);
    assert.equal(tools.resolvePeak(here, { threads: 2 }).gflops, 150);
    assert.equal(tools.resolvePeak(here, { threads: 2, dtype: 'bfloat16' }).gflops, 900);
    assert.match(tools.resolvePeak(here, { threads: 1 }).description, /80\.0 GFLOP\/s, the float32 2048x2048 matmul peak at 1 thread\(s\)/);
    assert.throws(() => tools.resolvePeak(here, { threads: 4 }), /no float32 peak at 4 thread\(s\) \(it has float32 at 1 thread\(s\), float32 at 2 thread\(s\), bfloat16 at 2 thread\(s\)\); measure with: npx tsx bench\/roofline\.ts --threads 4/);
    const elsewhere = rooflineFile('elsewhere.json', 'Some Other CPU', [{ dtype: 'float32', threads: 2, size: 2048, peakGflops: 150 }]);
    assert.throws(() => tools.resolvePeak(elsewhere, { threads: 2 }), /measured on 'Some Other CPU', this machine is/);
    assert.throws(() => tools.resolvePeak('0', { threads: 2 }), /expected GFLOP\/s above 0/);
    assert.throws(() => tools.resolvePeak(join(dir.path, 'missing.json'), { threads: 2 }), /not a number of GFLOP\/s, and not a readable roofline JSON file/);
    assert.throws(() => tools.resolvePeak(rooflineFile('other.json', 'x', {} as never), { threads: 2 }), /not a roofline file/);
  });

  it('resnets bench --peak prints the fraction of the peak each batch size reaches', async () => {
    const result = await resnets('bench', 'resnet18', '--size', '32', '--batch-size', '1,2', '--runs', '1', '--warmup', '0', '--plain', '--threads', '1', '--peak', '100');
    assert.equal(result.code, 0, result.stderr);
    const rows = [...result.stdout.matchAll(/^\s*(\d+)\s+([\d.]+)\s+[\d.]+\s*$/gm)].map((m) => ({ batch: Number(m[1]), imagesPerSecond: Number(m[2]) }));
    const line = /^of peak: batch 1 ([\d.]+)%, batch 2 ([\d.]+)% \(([\d.]+) GFLOP per image, 2 x summary's MACs; peak 100 GFLOP\/s given\)$/m.exec(result.stdout);
    assert.ok(line && rows.length === 2, result.stdout);
    const model = models.createModel('resnet18', { init: false });
    const flops = tools.flopsPerImage(model, [3, 32, 32]);
    model.dispose();
    rows.forEach((row, i) => {
      const expected = 100 * tools.fractionOfPeak(row.imagesPerSecond, flops, 100);
      assert.ok(Math.abs(Number(line[i + 1]) - expected) <= 0.05 + expected * 1e-3, `${line[i + 1]} vs ${expected}`);
    });
    const json = await resnets('bench', 'resnet18', '--size', '32', '--batch-size', '1', '--runs', '1', '--warmup', '0', '--plain', '--threads', '1', '--peak', '100', '--json');
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { results: { resnets: { imagesPerSecond: number } }[]; ofPeak: { flopsPerImage: number; peak: { gflops: number }; fractions: { batchSize: number; fraction: number }[] } };
    assert.equal(report.ofPeak.flopsPerImage, flops);
    assert.equal(report.ofPeak.peak.gflops, 100);
    assert.deepEqual(report.ofPeak.fractions, [{ batchSize: 1, fraction: tools.fractionOfPeak(report.results[0].resnets.imagesPerSecond, flops, 100) }]);
    const refused = await resnets('bench', 'resnet18', '--size', '32', '--batch-size', '1', '--runs', '1', '--peak', join(dir.path, 'missing.json'));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--peak .*missing\.json: not a number of GFLOP\/s/);
  });
});
