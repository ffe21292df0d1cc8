// Our inference throughput against PyTorch eager's, measured in the same run: the two
// alternate run by run (never at once), so a change in the machine's load hits both.
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { benchResult, InferenceTimer, type InferenceBenchOptions, type InferenceBenchResult } from './bench.js';
import type { TorchPeer } from './torch-peer.js';

export interface ComparedResult {
  resnets: InferenceBenchResult;
  torch: InferenceBenchResult;
  /** Our images/s over PyTorch's. */
  ratio: number;
}

export async function benchmarkAgainstTorch(model: Module<Tensor, unknown>, peer: TorchPeer, options: InferenceBenchOptions): Promise<ComparedResult> {
  const { warmup = 3, runs = 10 } = options;
  if (runs < 1) throw new Error(`bench: runs must be at least 1, got ${runs}`);
  const timer = new InferenceTimer(model, options);
  try {
    timer.time(warmup);
    await peer.time(options.batchSize, warmup);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(...timer.time(1));
      theirs.push(...(await peer.time(options.batchSize, 1)));
    }
    const resnets = benchResult(options, warmup, ours);
    const torch = benchResult(options, warmup, theirs, peer.threads);
    return { resnets, torch, ratio: resnets.imagesPerSecond / torch.imagesPerSecond };
  } finally {
    timer.dispose();
  }
}
