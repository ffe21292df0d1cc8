// The CPU's measured peak and how much of it a benchmark reaches. The peak is that of a
// large matmul through our torch API (libtorch's matmul: the BLAS library for float32,
// oneDNN's kernels for bfloat16 on CPUs with AVX512-BF16 or AMX), at the current thread
// count; a benchmark's fraction is its images/s times the FLOPs per image (2 x the
// multiply-accumulates `summary` counts: resnet50 4.09 GMACs, 8.18 GFLOP at 224x224)
// over that peak. bench/roofline.ts measures and saves peaks; `resnets bench --peak` reads them.
import { cpuModel } from '../torch/cpu-features.js';
import { readFileSync } from 'node:fs';
import type { Module } from '../nn/module.js';
import { randn } from '../torch/creation.js';
import { getNumThreads, noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { median } from './bench.js';
import { summarize } from './summary.js';

export const PEAK_DTYPES = ['float32', 'bfloat16'] as const;
export type PeakDtype = (typeof PEAK_DTYPES)[number];

export interface MatmulPeak {
  dtype: PeakDtype;
  threads: number;
  /** n of the n x n by n x n matmul. */
  size: number;
  /** 2 n^3 over each timed run. */
  gflopsPerRun: number[];
  medianGflops: number;
  /** The best run: the peak. */
  peakGflops: number;
}

/** Times `runs` n x n matmuls in `dtype` (after `warmup` untimed ones) at the current thread count. */
export function measureMatmulPeak(dtype: PeakDtype, options: { size?: number; runs?: number; warmup?: number } = {}): MatmulPeak {
  const { size = 2048, runs = 5, warmup = 1 } = options;
  if (!Number.isInteger(size) || size < 1) throw new Error(`roofline: size must be a positive integer, got ${size}`);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`roofline: runs must be a positive integer, got ${runs}`);
  const [a, b] = tidy(() => [randn([size, size]).to(dtype), randn([size, size]).to(dtype)]);
  try {
    const once = () => {
      const start = process.hrtime.bigint();
      noGrad(() => a.matmul(b)).dispose();
      return Number(process.hrtime.bigint() - start) / 1e9;
    };
    for (let i = 0; i < warmup; i++) once();
    const gflopsPerRun = Array.from({ length: runs }, () => (2 * size ** 3) / once() / 1e9);
    return { dtype, threads: getNumThreads(), size, gflopsPerRun, medianGflops: median(gflopsPerRun), peakGflops: Math.max(...gflopsPerRun) };
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** What bench/roofline.ts --save writes. */
export interface RooflineReport {
  /** The CPU model (os.cpus()), so a peak is never applied to another machine. */
  cpu: string;
  measuredAt: string;
  peaks: MatmulPeak[];
}

export { cpuModel };

/** A peak in GFLOP/s and what it is, for the printed line. */
export interface Peak {
  gflops: number;
  description: string;
}

/**
 * `--peak`'s value: a number of GFLOP/s, or a RooflineReport file, whose peak for
 * `dtype` at `threads` threads is taken; a file measured on another CPU is refused.
 */
export function resolvePeak(value: string, settings: { threads: number; dtype?: PeakDtype }): Peak {
  const dtype = settings.dtype ?? 'float32';
  if (/^\s*[0-9.]+(e[+-]?\d+)?\s*$/i.test(value)) {
    const gflops = Number(value);
    if (!(gflops > 0) || !Number.isFinite(gflops)) throw new Error(`--peak: expected GFLOP/s above 0 or a roofline JSON file, got '${value}'`);
    return { gflops, description: `${gflops} GFLOP/s given` };
  }
  let report: RooflineReport;
  try {
    report = JSON.parse(readFileSync(value, 'utf8')) as RooflineReport;
  } catch (error) {
    throw new Error(`--peak ${value}: not a number of GFLOP/s, and not a readable roofline JSON file (${(error as Error).message})`);
  }
  if (typeof report?.cpu !== 'string' || !Array.isArray(report.peaks)) throw new Error(`--peak ${value}: not a roofline file (expected { cpu, peaks } as bench/roofline.ts --save writes)`);
  if (report.cpu !== cpuModel()) throw new Error(`--peak ${value}: measured on '${report.cpu}', this machine is '${cpuModel()}'; measure here: npx tsx bench/roofline.ts --save ${value}`);
  const found = report.peaks.find((peak) => peak.dtype === dtype && peak.threads === settings.threads);
  if (!found) {
    const have = report.peaks.map((peak) => `${peak.dtype} at ${peak.threads} thread(s)`).join(', ');
    throw new Error(`--peak ${value}: no ${dtype} peak at ${settings.threads} thread(s) (it has ${have || 'none'}); measure with: npx tsx bench/roofline.ts --threads ${settings.threads} --save ${value}`);
  }
  return { gflops: found.peakGflops, description: `${found.peakGflops.toFixed(1)} GFLOP/s, the ${dtype} ${found.size}x${found.size} matmul peak at ${found.threads} thread(s) in ${value} (${report.measuredAt})` };
}

/** FLOPs of one image's forward: 2 x the convolution and linear multiply-accumulates `summary` counts. */
export function flopsPerImage(model: Module<Tensor, unknown>, imageShape: number[]): number {
  return 2 * summarize(model, [1, ...imageShape]).macs;
}

/** The fraction of `peakGflops` that `imagesPerSecond` images of `flops` each make. */
export function fractionOfPeak(imagesPerSecond: number, flops: number, peakGflops: number): number {
  return (imagesPerSecond * flops) / (peakGflops * 1e9);
}

export interface PeakFractions {
  /** FLOPs of one image's forward, as flopsPerImage counts them. */
  flopsPerImage: number;
  peak: Peak;
  fractions: { batchSize: number; fraction: number }[];
}

/** Each result's fraction of `peak`, the FLOPs per image counted on the model `build` makes (built, summarised, freed). */
export function peakFractions(build: () => Module<Tensor, unknown>, imageShape: number[], results: { batchSize: number; imagesPerSecond: number }[], peak: Peak): PeakFractions {
  const model = build();
  let flops: number;
  try {
    flops = flopsPerImage(model, imageShape);
  } finally {
    model.dispose();
  }
  return { flopsPerImage: flops, peak, fractions: results.map((r) => ({ batchSize: r.batchSize, fraction: fractionOfPeak(r.imagesPerSecond, flops, peak.gflops) })) };
}

/** "of peak: batch 1 21.0%, batch 8 27.3% (8.18 GFLOP per image, ...; peak ...)". */
export function formatPeakFractions({ flopsPerImage: flops, peak, fractions }: PeakFractions): string {
  const parts = fractions.map((f) => `batch ${f.batchSize} ${(100 * f.fraction).toFixed(1)}%`);
  return `of peak: ${parts.join(', ')} (${(flops / 1e9).toFixed(2)} GFLOP per image, 2 x summary's MACs; peak ${peak.description})`;
}
